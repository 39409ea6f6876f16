"""The project's own error classes."""


class PitchProbeError(Exception):
    """Base class of every error pitchprobe raises on purpose."""


class UnknownNameError(PitchProbeError, ValueError):
    """A language, model or option value that pitchprobe does not know.

    The message lists the valid names.
    """

    def __init__(self, kind: str, name: str, valid: list[str] | tuple[str, ...], hint: str = ""):
        self.kind = kind
        self.name = name
        self.valid = list(valid)
        shown = ", ".join(self.valid)
        msg = f"unknown {kind} {name!r}. Valid {kind}s: {shown}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class AudioError(PitchProbeError):
    """An audio file that cannot be used.

    Attributes
    ----------
    reason : str
        A short machine-readable code: ``missing``, ``corrupt``, ``empty``,
        ``too_short``, ``silent``, ``not_finite``, ``multichannel``,
        ``wrong_rate`` or ``pitch_failed``.
    """

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)
