"""The ``pitchprobe`` command (:mod:`pitchprobe.cli.main`)."""

from pitchprobe.cli.main import build_parser, main, script_main

__all__ = ["build_parser", "main", "script_main"]
