"""SIGTERM as a clean stop: raised as :class:`~pitchprobe.core.errors.Terminated` (a ``KeyboardInterrupt``).

A batch system's SIGTERM then unwinds a run as Ctrl-C does: finished work is
flushed, worker processes are shut down, one line is printed. Installed only
in the main thread and only where SIGTERM has its default action, so a job
runner's own handler (submitit's) is left alone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from pitchprobe.core.errors import Terminated


def _raise_terminated(signum, frame) -> None:
    raise Terminated("terminated")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """For the ``with`` block, SIGTERM raises :class:`Terminated` (where nobody else handles SIGTERM)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
        signal.SIG_DFL,
        None,
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


__all__ = ["sigterm_as_interrupt"]
