"""``python -m pitchprobe ...`` = ``pitchprobe ...``."""

import sys

from pitchprobe.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
