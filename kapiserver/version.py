"""What kapiserver says it is: the Kubernetes release it serves as (/version) and its own package version."""
import hashlib
import platform as _platform
from importlib import metadata

# The Kubernetes release whose API and behaviour kapiserver reproduces.
KUBERNETES_MAJOR = "1"
KUBERNETES_MINOR = "32"
KUBERNETES_GIT_VERSION = "v1.32.4"
# The toolchain upstream built v1.32.4 with; clients only display it.
GO_VERSION = "go1.23.6"

try:
    KAPISERVER_VERSION = metadata.version("kapiserver")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    KAPISERVER_VERSION = "0.1.0"

# Not upstream's commit: a stable identifier of this kapiserver release, in the 40-hex shape clients expect.
GIT_COMMIT = hashlib.sha1(f"kapiserver {KAPISERVER_VERSION}".encode()).hexdigest()
BUILD_DATE = "2026-11-25T00:00:00Z"

_GO_OS = {"linux": "linux", "darwin": "darwin", "windows": "windows", "freebsd": "freebsd",
          "openbsd": "openbsd", "netbsd": "netbsd", "sunos": "solaris", "aix": "aix"}
_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "armv7l": "arm", "armv6l": "arm", "arm": "arm", "i386": "386", "i486": "386",
            "i586": "386", "i686": "386", "x86": "386", "ppc64le": "ppc64le", "ppc64": "ppc64",
            "s390x": "s390x", "riscv64": "riscv64", "mips64": "mips64", "loongarch64": "loong64"}


def go_platform(system=None, machine=None):
    """The machine as Go names it ("linux/amd64"), from Python's platform names."""
    system = (system if system is not None else _platform.system()).lower()
    machine = (machine if machine is not None else _platform.machine()).lower()
    return f"{_GO_OS.get(system, system)}/{_GO_ARCH.get(machine, machine)}"


# Served at /version; keys in the order upstream's version.Info serializes them.
VERSION_INFO = {
    "major": KUBERNETES_MAJOR,
    "minor": KUBERNETES_MINOR,
    "gitVersion": KUBERNETES_GIT_VERSION,
    "gitCommit": GIT_COMMIT,
    "gitTreeState": "clean",
    "buildDate": BUILD_DATE,
    "goVersion": GO_VERSION,
    "compiler": "gc",
    "platform": go_platform(),
}


def version_string():
    """What `kube-apiserver --version` prints: "Kubernetes v1.32.4"."""
    return f"Kubernetes {KUBERNETES_GIT_VERSION}"


def raw_version_string():
    """What `--version=raw` prints: the version info in Go's %#v shape."""
    go_names = ["Major", "Minor", "GitVersion", "GitCommit", "GitTreeState", "BuildDate",
                "GoVersion", "Compiler", "Platform"]
    fields = ", ".join(f'{name}:"{value}"' for name, value in zip(go_names, VERSION_INFO.values()))
    return f"version.Info{{{fields}}}"
