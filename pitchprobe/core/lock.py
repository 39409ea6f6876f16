"""Inter-process locks: ``fcntl.flock`` on a lock file, which also works on the network filesystems of clusters.

One lock per language of a data root (gathering and labelling it) and one per
study run directory (:mod:`pitchprobe.core.layout` names the files). A second
process that wants a held lock says what it waits for, then waits; once it has
the lock it sees what the first one finished and skips it. A lock is
re-entrant within a process, so a function that holds it may call another
that takes it too. The kernel releases a lock when its holder dies, however
it dies; the file itself stays and is harmless.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from pitchprobe.core.errors import PitchProbeError

POLL_SECONDS = 0.5  # s, between tries when a time-out is given

_held: dict[str, tuple[int, int]] = {}  # resolved path -> (fd, depth), in this process
_guard = threading.Lock()
_fork_hook = []  # registered on first use: importing pitchprobe changes no process state


class LockTimeout(PitchProbeError):
    """A lock stayed held by another process for longer than the caller would wait."""


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return "another process"
    return text or "another process"


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike, *, what: str, timeout: float | None = None, quiet: bool = False
) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the ``with`` block.

    Parameters
    ----------
    path : path-like
        The lock file.
    what : str
        What the lock protects, for the waiting message ("labels of en_us").
    timeout : float or None
        Seconds to wait for another holder; None waits as long as it takes.
    quiet : bool
        No waiting message on stderr.

    Raises
    ------
    LockTimeout
        If ``timeout`` passed with the lock still held elsewhere.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                fd, depth = _held[key]
                _held[key] = (fd, depth - 1)
        return
    with _guard:
        if not _fork_hook:
            os.register_at_fork(after_in_child=_held.clear)  # a forked child holds nothing of its own
            _fork_hook.append(True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not quiet:
                print(f"waiting for {_holder(path)}, which is working on {what} (lock {path})", file=sys.stderr)
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(
                            f"{what}: still locked by {_holder(path)} after {timeout:g} s (lock {path})"
                        ) from None
                    time.sleep(POLL_SECONDS)
        except OSError as e:  # ENOSYS/ENOLCK: a filesystem without flock (Lustre without -o flock, some NFS)
            if isinstance(e, BlockingIOError):
                raise
            raise PitchProbeError(
                f"cannot lock {path} ({e.strerror}): this filesystem does not support flock; put the data root "
                "or run directory on one that does (for Lustre, mount with -o flock)"
            ) from e
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
        with _guard:
            _held[key] = (fd, 1)
        try:
            yield
        finally:
            with _guard:
                del _held[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


__all__ = ["LockTimeout", "file_lock"]
