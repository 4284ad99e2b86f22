"""The service-tree building blocks (kapiserver.services) and the shape of kube-apiserver's tree (make_service)."""
import dataclasses

from twisted.application import service
from twisted.internet import task
from twisted.internet.defer import Deferred, fail, succeed

from kapiserver import server
from kapiserver.config import ServerConfig
from kapiserver.listener import Listener
from kapiserver.services import STOP_TIMEOUT, ControllerService, ElectedService, Periodic, SequentialService


class Step(service.Service):
    """A child that records its start and stop in `events` and finishes each when the test fires it."""

    def __init__(self, name, events):
        self.setName(name)
        self.events = events
        self.started = Deferred()
        self.stopped = Deferred()

    def startService(self):
        super().startService()
        self.events.append(("start", self.name))
        return self.started

    def stopService(self):
        super().stopService()
        self.events.append(("stop", self.name))
        return self.stopped


def steps(parent, events, *names):
    return [parent.add(Step(name, events)) for name in names]


def test_children_start_one_after_another():
    """Each child starts once the one before it has started; the parent's start fires after the last."""
    events = []
    parent = SequentialService()
    a, b = steps(parent, events, "a", "b")
    started = parent.startService()
    assert events == [("start", "a")]
    a.started.callback(None)
    assert events == [("start", "a"), ("start", "b")] and not started.called
    b.started.callback(None)
    assert started.called


def test_children_stop_in_reverse_each_after_the_next():
    """Stopping goes from the last child to the first, each once the one after it has stopped."""
    events = []
    parent = SequentialService()
    a, b = steps(parent, events, "a", "b")
    a.started.callback(None)
    b.started.callback(None)
    parent.startService()
    del events[:]
    stopped = parent.stopService()
    assert events == [("stop", "b")]
    b.stopped.callback(None)
    assert events == [("stop", "b"), ("stop", "a")] and not stopped.called
    a.stopped.callback(None)
    assert stopped.called


def test_a_failed_child_fails_the_start_and_later_children_stay_stopped():
    """A child whose start fails fails the parent's start; the children after it are not started."""
    events = []
    parent = SequentialService()
    a, b = steps(parent, events, "a", "b")
    started = parent.startService()
    failures = []
    started.addErrback(failures.append)
    a.started.errback(RuntimeError("storage unavailable"))
    assert events == [("start", "a")] and not b.running
    assert failures[0].check(RuntimeError)


def test_a_stop_while_starting_stops_what_started_and_starts_nothing_more():
    """Stopped while a child is still starting: that child is stopped, and none after it starts."""
    events = []
    parent = SequentialService()
    a, b = steps(parent, events, "a", "b")
    parent.startService()
    a.stopped.callback(None)
    parent.stopService()
    a.started.callback(None)
    assert events == [("start", "a"), ("stop", "a")] and not b.running


class Controller:
    def __init__(self, stop_result=None):
        self.calls = []
        self.stop_result = stop_result

    async def start(self):
        self.calls.append("start")

    def stop(self):
        self.calls.append("stop")
        return self.stop_result


def test_controller_service_builds_a_new_controller_each_start():
    """Every start builds a fresh controller and starts it; every stop stops the one running."""
    clock = task.Clock()
    made = []
    controllers = ControllerService(lambda: made.append(Controller()) or made[-1], clock)
    assert controllers.startService().called
    controllers.stopService()
    controllers.startService()
    assert len(made) == 2 and made[0].calls == ["start", "stop"] and made[1].calls == ["start"]


def test_controller_stop_is_bounded():
    """A controller whose stop never finishes holds the exit only STOP_TIMEOUT seconds."""
    clock = task.Clock()
    controllers = ControllerService(lambda: Controller(stop_result=Deferred()), clock)
    controllers.startService()
    stopped = controllers.stopService()
    clock.advance(STOP_TIMEOUT - 0.1)
    assert not stopped.called
    clock.advance(0.1)
    assert stopped.called


def test_controller_waiting_starts_in_the_background():
    """With wait_for, the service counts as started at once and the controller starts when the wait ends;
    stopped before that, it never starts."""
    clock = task.Clock()
    waits = []
    made = []

    def wait():
        waits.append(Deferred())
        return waits[-1]
    controllers = ControllerService(lambda: made.append(Controller()) or made[-1], clock, wait_for=wait)
    assert controllers.startService().called and made[0].calls == []
    waits[0].callback(None)
    assert made[0].calls == ["start"]
    controllers.stopService()
    controllers.startService()
    controllers.stopService()
    waits[1].callback(None)
    assert made[1].calls == ["stop"]


class Elector:
    def __init__(self, on_started_leading, on_stopped_leading):
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.leading = False

    def win(self):
        self.leading = True
        return self.on_started_leading()

    def lose(self):
        self.leading = False
        self.on_stopped_leading()

    def start(self):
        return succeed(None)

    def stop(self):
        if self.leading:
            self.lose()
        return succeed(None)


def test_elected_children_run_only_while_leading():
    """An ElectedService starts its children on winning, stops them on losing, and again on winning."""
    events = []
    electors = []
    elected = ElectedService(lambda started, stopped: electors.append(Elector(started, stopped)) or electors[-1])
    a, b = steps(elected, events, "a", "b")
    for step in (a, b):
        step.started.callback(None)
        step.stopped.callback(None)
    assert elected.startService().called and events == []
    electors[0].win()
    assert events == [("start", "a"), ("start", "b")]
    electors[0].lose()
    assert events[2:] == [("stop", "b"), ("stop", "a")]
    electors[0].win()
    assert elected.stopService().called
    assert events[4:] == [("start", "a"), ("start", "b"), ("stop", "b"), ("stop", "a")]


def test_periodic_first_run_is_part_of_the_start():
    """Periodic runs its work at start (the start fires once it is done), then every step seconds; a later
    failure is logged and the loop goes on."""
    clock = task.Clock()
    runs = []
    results = [Deferred(), fail(RuntimeError("storage unavailable")), succeed(None)]

    def work():
        runs.append(clock.seconds())
        return results[len(runs) - 1]
    periodic = Periodic(10.0, work, clock)
    started = periodic.startService()
    assert runs == [0] and not started.called
    results[0].callback(None)
    assert started.called
    clock.advance(10)
    clock.advance(10)
    assert runs == [0, 10, 20]
    assert periodic.stopService().called


def test_periodic_first_failure_fails_the_start():
    """A failure of the first run fails the start."""
    periodic = Periodic(10.0, lambda: fail(RuntimeError("no storage")), task.Clock())
    failures = []
    periodic.startService().addErrback(failures.append)
    assert failures[0].check(RuntimeError)


class Reactor(task.Clock):
    running = True

    def stop(self):
        self.running = False


def test_start_failure_stops_the_reactor():
    """A child failing to start is logged and stops the reactor; ready does not fire."""
    reactor = Reactor()
    apiserver = server.APIServerService(reactor)
    apiserver.add(Periodic(10.0, lambda: fail(RuntimeError("no storage")), reactor))
    apiserver.startService()
    assert not reactor.running and not apiserver.ready.called


def test_make_service_shows_the_tree_in_start_order():
    """make_service builds every child up front, in start order: storage, registry, bootstrap and its
    reconcile loop, the CRD, APIService, APF configuration and identity controllers, compaction, handlers,
    the remote APIServices' availability and the extension-apiserver-authentication ConfigMap, listeners
    (the loopback one last), then the controllers: event TTL, and the kube-controller-manager controllers
    the apiserver embeds (namespace, garbage collector, service accounts, root CA, PV/PVC protection) through
    the loopback client."""
    tree = server.make_service(ServerConfig(), task.Clock())
    kinds = [type(child).__name__ for child in tree]
    assert kinds == ["StorageService", "RegistryService", "ControllerService", "Periodic", "ControllerService",
                     "ControllerService", "ControllerService", "ControllerService", "Periodic",
                     "HandlerService", "ControllerService", "ControllerService", "Listener", "Listener", "Listener",
                     "SequentialService"]
    assert [child.name for child in tree if isinstance(child, Listener)] == ["secure", "insecure", "loopback"]
    controllers = list(list(tree)[-1])
    assert [type(child).__name__ for child in controllers] == ["ControllerService", "EmbeddedControllers"]
    assert controllers[1].names == ["namespace-controller", "garbage-collector-controller", "serviceaccount-controller",
                                    "serviceaccount-token-controller", "root-ca-certificate-publisher-controller",
                                    "persistentvolumeclaim-protection-controller",
                                    "persistentvolume-protection-controller"]
    bootstrap_loop, compaction = [child for child in tree if isinstance(child, Periodic)]
    assert (bootstrap_loop.step, compaction.step) == (10.0, 300.0)


def test_make_service_elects_the_controllers_on_etcd():
    """On etcd the controllers sit under an ElectedService; without compaction or ports those children go."""
    config = dataclasses.replace(ServerConfig(), storage_backend="etcd3", etcd_servers=("http://127.0.0.1:2379",),
                                 etcd_compaction_interval=0, secure_port=0, insecure_port=0)
    tree = server.make_service(config, task.Clock())
    kinds = [type(child).__name__ for child in tree]
    assert kinds == ["StorageService", "RegistryService", "ControllerService", "Periodic", "ControllerService",
                     "ControllerService", "ControllerService", "ControllerService", "HandlerService",
                     "ControllerService", "ControllerService", "Listener", "ElectedService"]


def test_make_service_without_embedded_controllers_has_no_loopback_listener():
    """--embedded-controllers= (kube-controller-manager runs them): no loopback listener, event TTL alone."""
    config = dataclasses.replace(ServerConfig(), embedded_controllers=())
    tree = server.make_service(config, task.Clock())
    assert [child.name for child in tree if isinstance(child, Listener)] == ["secure", "insecure"]
    assert [type(child).__name__ for child in list(tree)[-1]] == ["ControllerService"]


def test_periodic_stop_waits_for_a_run_in_flight_but_not_for_ever():
    """Stopping waits for a run in flight to finish, at most STOP_TIMEOUT seconds."""
    clock = task.Clock()
    runs = [succeed(None), Deferred()]
    periodic = Periodic(10.0, lambda: runs.pop(0), clock)
    periodic.startService()
    clock.advance(10)
    stopped = periodic.stopService()
    assert not stopped.called
    clock.advance(STOP_TIMEOUT)
    assert stopped.called
