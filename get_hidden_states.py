"""`python get_hidden_states.py ...` = `pitchprobe states ...` (see `python get_hidden_states.py --help`)."""

from pitchprobe.cli.main import script_main

if __name__ == "__main__":
    script_main("states")
