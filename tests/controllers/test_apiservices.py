"""The local APIServices' registration loop and the extension-apiserver-authentication one, on a test clock."""

from __future__ import annotations

from kapiserver.controllers.apiservices import APIServiceRegistration
from kapiserver.controllers.extensionauth import ExtensionAuthentication

from .conftest import run


async def _done():
    return None


def test_registration_syncs_at_start_and_again_only_on_a_new_generation(registry, clock):
    controller = APIServiceRegistration(registry, clock, interval=1.0)
    synced = []

    def sync():
        synced.append(clock.seconds())
        controller._generation = registry.generation
        return _done()
    controller.sync = sync
    run(controller.start())
    assert synced == [1_800_000_000.0]
    clock.advance(1)
    assert len(synced) == 1          # nothing changed
    registry.generation += 1
    clock.advance(1)
    assert synced == [1_800_000_000.0, 1_800_000_002.0]
    run(controller.stop())
    registry.generation += 1
    clock.advance(1)
    assert len(synced) == 2


def test_a_failed_first_registration_fails_the_start(registry, clock):
    controller = APIServiceRegistration(registry, clock)

    async def broken():
        raise RuntimeError("no storage")
    controller.sync = broken
    try:
        run(controller.start())
    except RuntimeError:
        pass
    else:
        raise AssertionError("the start succeeded")
    run(controller.stop())


def test_extension_authentication_publishes_at_start_and_on_the_clock(registry, clock):
    controller = ExtensionAuthentication(registry, clock, lambda: None, interval=60.0)
    ensured = []

    async def ensure():
        ensured.append(clock.seconds())
        if len(ensured) == 1:
            raise RuntimeError("not yet")       # logged; the start and the loop go on
    controller.ensure = ensure
    run(controller.start())
    clock.advance(60)
    run(controller.stop())
    clock.advance(60)
    assert ensured == [1_800_000_000.0, 1_800_000_060.0]
    assert controller.stop() is None             # stopped already
