"""Images on a node that pulls none: what a container with no `command` runs on the host.

A container's `command` (with its `args`) runs on the host as written, whatever its image.  Without one, a
small table stands in for the image's entrypoint and default command (see docs/node.md, "Images"):

- busybox, alpine (any registry, any tag): `sh` with the args (no args: the image's default `sh`, which with
  its stdin closed exits at once, so the pod goes to CrashLoopBackOff as on a real node; with `stdin: true`
  it is an interactive shell);
- ubuntu, debian: `bash` (or `sh`) likewise;
- pause (registry.k8s.io/pause, any tag): sleeps until stopped;
- python, pypy: the host's python (sys.executable) with the args;
- nginx, nginx-slim, httpd: a static file server (Python's http.server) on the container's first
  containerPort (80 without one, which needs root), serving an index.html like nginx's welcome page from a
  directory of the pod's, which (where the node can mount: root) the container and commands exec'd into it
  see at the image's document root (/usr/share/nginx/html, /usr/local/apache2/htdocs), so a file written
  there is served;
- agnhost (registry.k8s.io/e2e-test-images/agnhost): the subcommands `pause`, `serve-hostname`, `netexec` and
  `porter`, as kapiserver.node.agnhost serves them, with no command or with /agnhost, its entrypoint, as one.

For another image with `args` but no `command`, the args run as the command (an image without an entrypoint).
Another image with neither cannot run here: it fails as a pull of a missing image does upstream (waiting
`ErrImagePull`, then `ImagePullBackOff` between retries, with the kubelet's Pulling, Failed and BackOff
events), and the pod stays Pending.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import List, Optional

BACKOFF_FIRST, BACKOFF_MAX = 10.0, 300.0       # the kubelet's image pull back-off
SHELLS = {"busybox", "alpine"}
BASH_SHELLS = {"ubuntu", "debian"}
PYTHONS = {"python", "pypy"}
WEB_SERVERS = {"nginx", "nginx-slim", "httpd"}
DOCUMENT_ROOTS = {"nginx": "/usr/share/nginx/html", "nginx-slim": "/usr/share/nginx/html",
                  "httpd": "/usr/local/apache2/htdocs"}

WELCOME = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>
<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""


def repository(image: str) -> str:
    """The image's last path component without tag or digest: busybox of docker.io/library/busybox:1.36."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0].lower()


def reference(image: str) -> str:
    """The image as containerd names it: registry, repository and a tag (latest by default)."""
    name = image
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + (name if "/" in name else "library/" + name)
    if "@" not in name and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def _port(spec: dict) -> int:
    for port in spec.get("ports") or []:
        if port.get("containerPort"):
            return int(port["containerPort"])
    return 80


def known(image: str) -> bool:
    """Whether `image` has a stand-in here when the container gives neither command nor args."""
    return repository(image) in SHELLS | BASH_SHELLS | PYTHONS | WEB_SERVERS | {"pause", "agnhost"}


def html_dir(pod_directory: str, container_name: str) -> str:
    """The directory a web server stand-in serves: the pod's own, one per container."""
    return os.path.join(pod_directory, "images", container_name, "html")


def document_root(spec: dict) -> Optional[str]:
    """Where the image keeps the pages its stand-in serves (nginx: /usr/share/nginx/html), when a container
    of that spec runs the stand-in (a web server image, neither command nor args); None otherwise."""
    if spec.get("command") or spec.get("args"):
        return None
    return DOCUMENT_ROOTS.get(repository(spec.get("image") or ""))


def command_for(container, args: List[str]) -> Optional[List[str]]:
    """The argv for `container` (whose spec has no command) given its expanded `args`; None when its image
    cannot run here (the pull failure is then reported and retried)."""
    spec = container.spec
    name = repository(spec.get("image") or "")
    if name in SHELLS:
        return args or ["sh"]
    if name in BASH_SHELLS:
        return args or [("bash" if shutil.which("bash") else "sh")]
    if name == "pause":
        return ["sleep", "infinity"]
    if name in PYTHONS:
        # No entrypoint: the args replace the default command (python3); "python" is the host's.
        if not args or args[0] in ("python", "python3", "pypy", "pypy3"):
            return [sys.executable] + args[1:]
        return args
    if name in WEB_SERVERS:
        if args:
            return args
        root = html_dir(container.pod.directory, container.name)
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write(WELCOME)
        return [sys.executable, "-m", "http.server", str(_port(spec)), "--bind",
                getattr(container.pod, "host_ip", "127.0.0.1"), "--directory", root]
    if name == "agnhost":
        return _AGNHOST + args
    if args:
        return args
    pull_failed(container)
    return None


_AGNHOST = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "agnhost.py")]


def with_entrypoint(spec: dict, argv: List[str]) -> List[str]:
    """The argv for a container whose spec gives a command: an image's own entrypoint named as the command
    (agnhost's /agnhost) is its stand-in here; any other command runs as given."""
    if repository(spec.get("image") or "") == "agnhost" and argv and argv[0] in ("/agnhost", "agnhost"):
        return _AGNHOST + argv[1:]
    return argv


def _event(container, type_: str, reason: str, message: str) -> None:
    record = getattr(container, "event", None)      # the kubelet's event about this container
    if record is not None:
        record(type_, reason, message)


def pull_failed(container) -> None:
    """A pull of an image that does not exist, as upstream's kubelet reports it: Pulling, then Failed with
    the runtime's error, waiting ErrImagePull; at the next sync ImagePullBackOff (BackOff event) until the
    back-off (10 s doubling to 5 min) lets it try again."""
    image = container.spec.get("image") or ""
    ref = reference(image)
    error = (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": failed to resolve '
             f'reference "{ref}": {ref}: not found')
    _event(container, "Normal", "Pulling", f'Pulling image "{image}"')
    _event(container, "Warning", "Failed", f'Failed to pull image "{image}": {error}')
    _event(container, "Warning", "Failed", "Error: ErrImagePull")
    container.state = {"waiting": {"reason": "ErrImagePull", "message": error}}
    container.pod.changed()
    failures = getattr(container, "image_pull_failures", 0)
    container.image_pull_failures = failures + 1
    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** failures)
    reactor = container.pod.reactor

    def back_off():
        if container.stopping:
            return
        _event(container, "Normal", "BackOff", f'Back-off pulling image "{image}"')
        _event(container, "Warning", "Failed", "Error: ImagePullBackOff")
        container.state = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
        container.pod.changed()
        container.image_pull_retry = reactor.callLater(max(0.0, delay - 1.0), retry)

    def retry():
        if not container.stopping:
            container.start()
    container.image_pull_retry = reactor.callLater(1.0, back_off)
