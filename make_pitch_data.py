"""`python make_pitch_data.py ...` = `pitchprobe labels ...` (see `python make_pitch_data.py --help`)."""

from pitchprobe.cli.main import script_main

if __name__ == "__main__":
    script_main("labels")
