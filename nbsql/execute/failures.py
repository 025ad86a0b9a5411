"""Why a run failed: one class per failed run, from its status and the exception it ended on."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The failure classes, in the order the statistics show them, with their labels.
FAILURE_CLASSES = {
    "missing-module": "missing module",
    "missing-file": "missing file or data",
    "network": "network",
    "timeout": "timeout",
    "missing-kernel": "missing kernel",
    "out-of-memory": "out of memory",
    "kernel-died": "kernel died",
    "code": "exception in the notebook's code",
}

_MODULE_ERRORS = {"ModuleNotFoundError", "ImportError"}
#: How an ImportError names the module it lacks: Python's own words, pandas' optional dependencies
#: ("Missing optional dependency 'openpyxl'"), and a library's "matplotlib is required for plotting".
_MISSING_MODULE = re.compile(r"No module named '?([\w.]+)'?|Missing optional dependency '([\w.\-]+)'|"
                             r"^'?([\w.\-]+)'? is required\b")
_FILE_ERRORS = {"FileNotFoundError", "IsADirectoryError", "NotADirectoryError"}
_FILE_TEXT = re.compile(r"No such file or directory|does not exist|not found: '|File .* not found|"
                        r"Errno 2\]", re.I)
_FILE_TEXT_ERRORS = {"OSError", "IOError", "ValueError", "ParserError"}  # missing files when their message says so
_NETWORK_ERRORS = {"ConnectionError", "ConnectionRefusedError", "ConnectionResetError", "ConnectionAbortedError",
                   "URLError", "gaierror", "MaxRetryError", "NewConnectionError", "ConnectTimeout",
                   "ProxyError", "SSLError", "socket.gaierror", "HTTPError", "RemoteDisconnected"}
_NETWORK_TEXT = re.compile(r"Name or service not known|Temporary failure in name resolution|Network is unreachable|"
                           r"nodename nor servname|Failed to establish a new connection|getaddrinfo failed|"
                           r"No address associated with hostname|urlopen error", re.I)


@dataclass(frozen=True)
class Failure:
    failure_class: str
    missing_module: str | None = None


def classify(status: str, exception_name: str | None, exception_value: str | None) -> Failure | None:
    """The failure class of a run (None for a run that was ok)."""
    name, value = exception_name or "", exception_value or ""
    if status == "ok":
        return None
    if status == "timeout":
        return Failure("timeout")
    if status == "kernel-missing":
        return Failure("missing-kernel")
    if name == "MemoryError":
        return Failure("out-of-memory")
    if status == "crashed":
        return Failure("kernel-died")
    if name in _MODULE_ERRORS:
        module = _MISSING_MODULE.search(value)
        if module or name == "ModuleNotFoundError":
            found = next((group for group in module.groups() if group), None) if module else None
            return Failure("missing-module", found.split(".")[0] if found else None)
    if name in _NETWORK_ERRORS or _NETWORK_TEXT.search(value):
        return Failure("network")
    if name in _FILE_ERRORS or (name in _FILE_TEXT_ERRORS and _FILE_TEXT.search(value)):
        return Failure("missing-file")
    return Failure("code")
