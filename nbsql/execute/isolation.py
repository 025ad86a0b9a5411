"""What keeps a run away from the user's machine: a throw-away copy of the notebook's folder, a
scrubbed environment with HOME inside the copy, a network namespace where the OS allows one, and
the sweep that kills every process a run started.

Linux only for the network: the job process, forked by the zygote, moves itself into a new user
and network namespace (:func:`enter_network_namespace`: the ``unshare(2)`` call, mapped to root as
``unshare --user --map-root-user --net`` does), which needs no privilege where unprivileged user
namespaces are allowed (and works as root); it then brings its own loopback up, so that the kernel
and its client still talk over ZMQ. Where the call is refused (a container without the capability,
another OS) the run has the machine's network, and ``executions.isolated`` says so.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import socket
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

#: Variables passed from the user's environment to a run (and so to the kernel); every other one is
#: left out. ``LC_*`` covers the locale categories.
ALLOWED_VARIABLES = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM")
ALLOWED_PREFIXES = ("LC_",)
#: The variable every process of a run inherits: the sweep finds them by it.
MARKER = "NBSQL_RUN"
#: Bytes of the notebook's folder copied for a run; files beyond are left out (and counted).
COPY_LIMIT = 512 * 1024 * 1024
#: Folders never copied: version control and editor checkpoints.
NOT_COPIED = frozenset({".git", ".hg", ".svn", ".ipynb_checkpoints"})

_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000


def allowed_environment() -> dict[str, str]:
    """The allow-listed variables of the user's environment, and where ``pip install --user`` put
    packages (kept, so that they import): the zygote's whole environment."""
    kept = {name: value for name, value in os.environ.items()
            if name in ALLOWED_VARIABLES or name.startswith(ALLOWED_PREFIXES)}
    kept["PYTHONUSERBASE"] = _user_base()
    return kept


def scrubbed_environment(home: Path, marker: str, kernel_data: str | None) -> dict[str, str]:
    """The environment of a run: the allow-listed variables, HOME and TMPDIR inside the run's
    folder, the kernelspec's data folder (HOME moved, it would not be found) and the marker."""
    kept = allowed_environment()
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    kept.update({"HOME": str(home), "TMPDIR": str(tmp), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                 "MPLBACKEND": "agg", MARKER: marker})
    if kernel_data:
        kept["JUPYTER_PATH"] = kernel_data
    return kept


def _user_base() -> str:
    """Where ``pip install --user`` put packages for the real HOME."""
    import site

    return site.getuserbase()


def enter_network_namespace() -> bool:
    """Move this process into a new user namespace, where it is root mapped to its own user (as
    ``unshare --user --map-root-user --net`` does), and a new network namespace with its loopback
    up; False when the OS refuses, leaving the process where it was. The process must be
    single-threaded (a forked child is)."""
    if not os.path.exists("/proc/self/ns/net"):
        return False
    uid, gid = os.getuid(), os.getgid()
    try:
        _unshare(_CLONE_NEWUSER | _CLONE_NEWNET)
    except (OSError, AttributeError):  # refused, or no unshare(2) in this C library
        return False
    for name, line in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        descriptor = os.open(f"/proc/self/{name}", os.O_WRONLY)
        try:
            os.write(descriptor, line.encode())
        finally:
            os.close(descriptor)
    bring_loopback_up()
    return True


def _unshare(flags: int) -> None:
    native = getattr(os, "unshare", None)  # Python 3.12
    if native is not None:
        native(flags)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def bring_loopback_up() -> None:
    """Bring ``lo`` up in this process's (new) network namespace, as ``ip link set lo up`` would,
    without needing iproute2: the kernel and its client talk over 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def network_isolated() -> bool:
    """Whether this process sees no network interface but loopback (read from the kernel's own
    list of this namespace's interfaces)."""
    try:
        lines = Path("/proc/self/net/dev").read_text().splitlines()[2:]
    except OSError:
        return False
    return [line.split(":", 1)[0].strip() for line in lines] == ["lo"]


@dataclass(frozen=True)
class Copied:
    folder: Path  # the copy of the notebook's folder
    left_out: int  # files not copied


def copy_folder(source: Path, target: Path, limit: int = COPY_LIMIT) -> Copied:
    """Copy ``source`` and its subfolders into ``target``: regular files (a symlink to a file is
    copied as the file), never symlinked folders or :data:`NOT_COPIED`, at most ``limit`` bytes.
    Nothing in the copy points back to the originals."""
    copied, left_out = 0, 0
    for folder, subfolders, files in os.walk(source):
        here = Path(folder)
        relative = here.relative_to(source)
        kept = []
        for name in sorted(subfolders):
            if name in NOT_COPIED or (here / name).is_symlink():
                left_out += name not in NOT_COPIED
            else:
                kept.append(name)
        subfolders[:] = kept
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            path = here / name
            try:
                info = path.stat()  # the target of a link
            except OSError:
                left_out += 1
                continue
            if not stat.S_ISREG(info.st_mode) or copied + info.st_size > limit:
                left_out += 1
                continue
            try:
                shutil.copyfile(path, target / relative / name)
            except OSError:
                left_out += 1
                continue
            copied += info.st_size
    return Copied(target, left_out)


def remove_tree(path: Path) -> None:
    """Delete a run's folder, whatever the notebook did to its permissions."""
    def writable_again(function, name, _):
        try:
            os.chmod(os.path.dirname(name), 0o700)
            os.chmod(name, 0o700)
            function(name)
        except OSError:
            pass

    shutil.rmtree(path, onerror=writable_again)


def marked_processes(marker: str) -> list[int]:
    """Processes whose environment holds ``MARKER=marker``, and their descendants: every process a
    run started, however far it wandered from its parent (a new session, a double fork), unless it
    cleared its environment. Descendants, because a child in the middle of exec shows no
    environment yet (its parent may already have been told the exec succeeded)."""
    needle = f"{MARKER}={marker}\0".encode()
    found = set()
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if needle in handle.read() + b"\0":
                    found.add(pid)
        except OSError:  # gone, or not ours
            continue
    parents = _parents()  # read after the environments: a child forked meanwhile is in it
    grown = True
    while grown:
        descendants = {pid for pid, parent in parents.items() if parent in found} - found
        found |= descendants
        grown = bool(descendants)
    return sorted(found)


def kill_marked(marker: str) -> int:
    """Stop every process of the run ``marker`` until no new one shows (a stopped process cannot
    fork), then SIGKILL them all; returns how many there were."""
    if not os.path.isdir("/proc"):
        return 0
    stopped: set[int] = set()
    for _ in range(20):
        pids = set(marked_processes(marker)) - stopped - {os.getpid()}
        if not pids:
            break
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        stopped |= pids
    for pid in stopped:
        _signal(pid, signal.SIGKILL)
    return len(stopped)


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except OSError:  # gone already
        pass


def _pids() -> list[int]:
    """Every process, from the names in /proc."""
    return [int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()]


def _parents() -> dict[int, int]:
    """Every process and its parent, read from /proc."""
    parents = {}
    for pid in _pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[pid] = int(fields[1])
    return parents


def child_processes(parent: int) -> list[int]:
    """The processes whose parent is ``parent``."""
    return [pid for pid, its_parent in _parents().items() if its_parent == parent]


def limit_memory(pid: int, limit: int) -> bool:
    """Cap the address space (RLIMIT_AS) of process ``pid`` at ``limit`` bytes; False when refused."""
    import resource

    try:
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):
        return False
    return True
