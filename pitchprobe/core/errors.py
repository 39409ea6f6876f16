"""The project's own error classes."""

from __future__ import annotations

import difflib
from collections.abc import Callable


class PitchProbeError(Exception):
    """Base class of every error pitchprobe raises on purpose."""


class UnknownNameError(PitchProbeError, ValueError):
    """A language, model or option value that pitchprobe does not know.

    The message lists the valid names, after the close matches of ``name`` among them (``suggest``) if asked.
    """

    def __init__(
        self, kind: str, name: str, valid: list[str] | tuple[str, ...], hint: str = "", *, suggest: bool = False
    ):
        self.kind = kind
        self.name = name
        self.valid = list(valid)
        shown = ", ".join(self.valid)
        close = difflib.get_close_matches(name, self.valid, n=3) if suggest else []
        maybe = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        msg = f"unknown {kind} {name!r}.{maybe} Valid {kind}s: {shown}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class NoDevFramesError(PitchProbeError, ValueError):
    """The probe was asked to choose alpha on dev frames, and the corpus has none."""


class OfflineError(PitchProbeError):
    """The source of the data (the Hugging Face Hub) cannot be reached: the whole run's fault, never one
    language's, so :func:`contained` lets it through and the command stops with one message."""


PERMANENT_REASONS = frozenset(
    {"corrupt", "empty", "too_short", "silent", "not_finite", "multichannel", "wrong_rate", "pitch_failed"}
)
"""Failure reasons of a file itself: recorded, and skipped by a rerun unless it asks to retry failures."""
TRANSIENT_REASONS = frozenset({"missing", "out_of_memory", "timeout", "worker_died", "io_error", "internal_error"})
"""Failure reasons of the run, not of the file: recorded, and retried by the next run."""


def is_permanent(reason: str | None) -> bool:
    """Whether a recorded failure is the file's own (see :data:`PERMANENT_REASONS`); unknown reasons are retried."""
    return reason in PERMANENT_REASONS


class AudioError(PitchProbeError):
    """An audio file that cannot be used.

    Attributes
    ----------
    reason : str
        A short machine-readable code: ``missing``, ``corrupt``, ``empty``,
        ``too_short``, ``silent``, ``not_finite``, ``multichannel``,
        ``wrong_rate`` or ``pitch_failed`` (see :data:`PERMANENT_REASONS`).
    """

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that a run stops as cleanly as on Ctrl-C (exit code 143)."""


def describe(error: BaseException) -> str:
    """One line for ``error``: pitchprobe's own message, an OS error's cause and file, or type and message."""
    if isinstance(error, PitchProbeError):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def contained(what: str, work: Callable[[], object], *, fail_fast: bool) -> str | None:
    """Run ``work()``; return None, or the one-line reason (:func:`describe`) of any exception it raised.

    One language's or unit's fault of any kind is then recorded for it and the run goes on. With
    ``fail_fast`` it is raised instead, as ``PitchProbeError("--fail-fast: <what>: <reason>")`` (an
    error that already says ``--fail-fast`` as it is). ``KeyboardInterrupt`` always propagates.
    """
    try:
        work()
    except OfflineError:
        raise
    except Exception as e:  # noqa: BLE001 - the caller records the reason; nothing is lost or hidden
        if fail_fast and str(e).startswith("--fail-fast"):
            raise
        if fail_fast:
            raise PitchProbeError(f"--fail-fast: {what}: {describe(e)}") from e
        return describe(e)
    return None
