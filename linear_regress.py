"""`python linear_regress.py ...` = `pitchprobe probe ...` (see `python linear_regress.py --help`)."""

from pitchprobe.cli.main import script_main

if __name__ == "__main__":
    script_main("probe")
