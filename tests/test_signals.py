"""kapiserver.signals: what a daemon does with a SIGTERM or SIGINT while it stops already (in-process, with the
test's own handlers standing for twistd's; the handlers are restored after each test)."""

from __future__ import annotations

import os
import signal

import pytest

from kapiserver import signals


class RunningReactor:
    """callWhenRunning of a reactor that runs already."""

    def callWhenRunning(self, f, *args):
        f(*args)


@pytest.fixture
def heard(monkeypatch):
    """What the stand-in for twistd's SIGTERM and SIGINT handlers heard."""
    monkeypatch.setattr(signals, "_supervised", False)
    heard = []
    previous = {signum: signal.signal(signum, lambda number, frame: heard.append(number))
                for signum in (signal.SIGTERM, signal.SIGINT)}
    yield heard
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def test_a_supervised_daemon_hears_the_first_sigterm_only(heard):
    """kube-cluster's SIGTERM and systemd's reach a child together: its handler hears the first only."""
    signals.first_only(RunningReactor())
    for _ in range(3):
        os.kill(os.getpid(), signal.SIGTERM)
    assert heard == [signal.SIGTERM]


def test_the_apiserver_exits_at_a_second_signal(heard):
    """As upstream's kube-apiserver: the first SIGTERM or SIGINT goes to the handler (the graceful shutdown),
    a second of either ends the process with status 1."""
    exits = []
    signals.exit_on_second(RunningReactor(), exit=exits.append)
    os.kill(os.getpid(), signal.SIGINT)
    assert heard == [signal.SIGINT] and exits == []
    os.kill(os.getpid(), signal.SIGTERM)
    assert heard == [signal.SIGINT] and exits == [1]


def test_under_kube_cluster_a_repeat_is_ignored_even_in_the_apiserver(heard):
    """The apiserver kube-cluster runs gets the supervised daemon's policy: a repeat ends nothing."""
    exits = []
    signals.first_only(RunningReactor())
    signals.exit_on_second(RunningReactor(), exit=exits.append)
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGTERM)
    assert heard == [signal.SIGTERM] and exits == []


def test_the_daemons_twistd_services_exit_at_a_second_signal():
    """twistd's kube-scheduler, kube-controller-manager and kube-node build their service through
    signals.serving (inside gcpolicy.serving), as the apiserver's entry points call exit_on_second."""
    from twisted.application.service import IServiceMaker
    from twisted.plugin import getPlugins

    makers = {p.tapname: p for p in getPlugins(IServiceMaker)}
    for name in ("kube-scheduler", "kube-controller-manager", "kube-node"):
        inner = [cell.cell_contents for cell in makers[name].makeService.__closure__]
        assert [f.__qualname__ for f in inner] == ["serving.<locals>.make_exiting_on_second"], name


def test_serving_makes_the_service_then_sets_the_policy(heard, monkeypatch):
    """The service is the one the tap makes; its process then exits at a second signal."""
    from twisted.internet import reactor
    installed = []
    monkeypatch.setattr(signals, "exit_on_second", installed.append)
    made = signals.serving(lambda options, *args: ("service", options, args))
    assert made({"kubeconfig": "x"}, 1) == ("service", {"kubeconfig": "x"}, (1,))
    assert installed == [reactor]
