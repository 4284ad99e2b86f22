"""Logging: the -v level (klog's V(n)), the per-request log line, and the stderr observer for foreground runs.

Everything goes through twisted.logger, so under twistd the lines land wherever twistd sends its log.
"""
import sys

from twisted.logger import (
    FilteringLogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)

# The level at which each request is logged, as one line (upstream logs requests from -v=2 upward).
REQUEST_LOG_LEVEL = 2
# Below this level Twisted's own chatter (factory start/stop and the like) is kept out of the log.
TWISTED_INFO_LEVEL = 4

_request_log = Logger(namespace="kapiserver.httplog")
_verbosity = 0


def set_verbosity(level):
    """Set the process-wide -v level that `enabled` and `log_request` consult."""
    global _verbosity
    _verbosity = int(level)


def verbosity():
    """The current -v level."""
    return _verbosity


def enabled(level):
    """Whether messages at -v level `level` are logged (klog's V(level).Enabled())."""
    return _verbosity >= level


def format_latency(seconds):
    """A latency the way Go prints a time.Duration: "812µs", "3.2ms", "1.5s"."""
    if seconds < 0:
        return "-" + format_latency(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f}ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3f}".rstrip("0").rstrip(".") + "\u00b5s"
    if seconds < 1:
        return f"{seconds * 1e3:.3f}".rstrip("0").rstrip(".") + "ms"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


def _quote(text):
    # Go's %q for the common case: quotes and backslashes escaped, control characters shown.
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else repr(c)[1:-1] for c in escaped) + '"'


def log_request(verb, path, code, latency_seconds):
    """Log one finished request as a single line, when -v is 2 or more; otherwise do nothing, cheaply.

    `verb` is the HTTP method, `path` the request URI (text, or bytes decoded only when logged), `code` the
    response status.
    """
    if _verbosity < REQUEST_LOG_LEVEL:
        return
    if isinstance(verb, bytes):
        verb = verb.decode("ascii", "replace")
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    latency = format_latency(latency_seconds)
    line = f"HTTP verb={_quote(str(verb))} URI={_quote(str(path))} latency={_quote(latency)} resp={int(code)}"
    _request_log.info("{line}", line=line, verb=verb, path=path, code=code, latency_seconds=latency_seconds)


def level_predicate(level):
    """The filter a log observer needs for -v `level`: info and up, debug from 4, Twisted's chatter from 4."""
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.debug if level >= TWISTED_INFO_LEVEL
                                        else LogLevel.info)
    if level < TWISTED_INFO_LEVEL:
        predicate.setLogLevelForNamespace("twisted", LogLevel.warn)
    return predicate


def stderr_observer(level, stream=None):
    """A log observer writing text lines to `stream` (stderr by default), filtered for -v `level`."""
    return FilteringLogObserver(textFileLogObserver(stream if stream is not None else sys.stderr),
                                [level_predicate(level)])


def begin_stderr_logging(level, stream=None):
    """Start the global log going to stderr at -v `level` (for `python -m kapiserver`; twistd does its own)."""
    set_verbosity(level)
    globalLogBeginner.beginLoggingTo([stderr_observer(level, stream)], redirectStandardIO=False)
