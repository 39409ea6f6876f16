"""`python gather_data.py ...` = `pitchprobe gather ...` (see `python gather_data.py --help`)."""

from pitchprobe.cli.main import script_main

if __name__ == "__main__":
    script_main("gather")
