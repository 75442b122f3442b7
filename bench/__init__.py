"""``make bench`` (``python -m bench``): throughput scenarios against the CleverTap emulator, and an incumbent-style baseline."""
