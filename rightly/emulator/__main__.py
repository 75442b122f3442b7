"""``python -m rightly.emulator ARGS``: the same as ``rightly emulator ARGS``."""

import sys

from rightly.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
