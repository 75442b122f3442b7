"""``python -m bench [--quick]`` (``make bench``): run the benchmark, write bench-results/latest.json."""

import sys

from bench.report import main

sys.exit(main(quick="--quick" in sys.argv[1:]))
