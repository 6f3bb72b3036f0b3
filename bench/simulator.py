"""`python -m bench.simulator`: `python -m simulator` with bench's fast path for plain queries.

The bench starts this instead of `python -m simulator`, with the same arguments, so that a
10,000-stack world answers `stacks` quickly (bench/fast_graphql.py). The simulator itself
stays plain graphql-core.
"""

from __future__ import annotations

import sys

from bench.fast_graphql import execute_plain
from simulator.__main__ import main

if __name__ == "__main__":
    sys.exit(main(shortcut=execute_plain))
