"""kapiserver's modules, and its packages, import one another without a circle, and never from a higher layer
of the architecture (imports inside functions count)."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "kapiserver"


def _modules() -> dict[str, pathlib.Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _known(name: str, modules) -> str:
    """The longest prefix of ``name`` that is one of ``modules`` ("" if none)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def import_graph() -> dict[str, set[str]]:
    """Module name -> the kapiserver modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                # "from package import module" imports the module; "from module import name" the module.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            for target in targets:
                found = _known(target, modules)
                if found and found != name:
                    graph[name].add(found)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """kapiserver's top-level packages (and modules) -> those they import."""
    def top(name: str) -> str:
        return ".".join(name.split(".")[:2])
    packages: dict[str, set[str]] = {}
    for name, imported in graph.items():
        packages.setdefault(top(name), set()).update(top(i) for i in imported if top(i) != top(name))
    return packages


def test_circles_are_found():
    """The check itself: a two-module circle is one component, a chain is none."""
    assert circles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_in_a_circle():
    """No two kapiserver modules import each other, directly or through others."""
    assert circles(import_graph()) == []


def test_no_package_imports_itself_in_a_circle():
    """No two of kapiserver's packages (endpoints, admission, auth, registry, ...) import each other."""
    assert circles(package_graph(import_graph())) == []


# The layers, highest first: a module may import from its own layer and those below it, never above.  The
# first part of a module's name under kapiserver (its package, or the module itself) names its layer.
LAYERS = [
    {"testing"},                        # the pytest plugin: runs the daemons as processes, talks HTTP to them
    {"__main__", "tap"},                # twistd's and python -m's entry points
    {"server", "node", "controllermanager", "scheduler", "cluster", "healthserver"},   # the daemons' service trees
    {"workers"},                        # --workers: the processes serving the API over one store
    {"config"},                         # kube-apiserver's flags as a ServerConfig
    {"runtime", "http2"},               # what every request passes through: limits, timeouts, HTTP/2
    {"controllers"},                    # what the apiserver runs itself, on the registry
    {"endpoints"},                      # HTTP: request info, negotiation, verb handlers, watch, discovery
    {"admission"},                      # admission plugins and the chain
    {"auth"},                           # authentication and authorization
    {"registry"},                       # the Store, strategies, subresources, CRDs, admission attributes
    {"watch"},                          # the watch cache and the storage reader behind the same interface
    {"kubelet", "tunneler"},            # reaching nodes
    {"storage"},                        # etcd's model and its backends
    {"client"},                         # the daemons' client of the API: REST, informers, work queue
    {"machinery"},                      # the API's machinery: errors, codec, selectors, patches, schemas
    {"logs", "version", "flags", "hostaddress", "listener", "services", "exitstatus", "gcpolicy",
     "signals", "tlskeys", "pool", "httpprobe"},   # leaves
]


def layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else ""
    for rank, names in enumerate(LAYERS):
        if part in names:
            return rank
    raise AssertionError(f"{module} belongs to no layer: add {part!r} to LAYERS")


def test_every_module_has_a_layer():
    for module in import_graph():
        if module != "kapiserver":
            layer(module)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{module} -> {target}" for module, targets in graph.items() if module != "kapiserver"
                  for target in targets if target != "kapiserver" and layer(target) < layer(module))


def test_upward_imports_are_found():
    """The check itself: storage importing the registry is upward, the registry importing storage is not."""
    graph = {"kapiserver.storage.sqlite": {"kapiserver.registry.store"}, "kapiserver.registry.store":
             {"kapiserver.storage.interface"}}
    assert upward_imports(graph) == ["kapiserver.storage.sqlite -> kapiserver.registry.store"]


def test_no_import_reaches_up_a_layer():
    """No module imports one of a higher layer (DESIGN.md's layers, admission above auth)."""
    assert upward_imports(import_graph()) == []


# The daemons beside the API server talk to it only through kapiserver.client (DESIGN.md rule 8): never the
# registry, storage, watch cache, or the apiserver's own request handling.
APISERVER_INSIDES = {"registry", "storage", "watch", "endpoints", "admission", "controllers", "server", "config",
                     "runtime", "http2"}
DAEMONS = {"controllermanager", "scheduler", "cluster", "node"}
# Wire protocols the kubelet serves as the apiserver does (SPDY, WebSocket upgrades): codecs, not API access.
PROTOCOLS = {"kapiserver.endpoints.spdy", "kapiserver.endpoints.upgrade", "kapiserver.endpoints.websocket"}


def test_daemons_reach_the_api_only_through_the_client():
    reached = sorted(f"{module} -> {target}" for module, targets in import_graph().items()
                     if module.split(".")[1:2] and module.split(".")[1] in DAEMONS
                     for target in targets - PROTOCOLS
                     if target.split(".")[1:2] and target.split(".")[1] in APISERVER_INSIDES)
    assert reached == []
