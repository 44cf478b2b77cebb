"""Run a sweep and write its report, the command behind every sweep target of the Makefile:
`python src/sweep.py [--seeds N|auto|auto:N] [--budget MIN] [--then-confirm top:N|groups] [--dir DIR] override ...`,
e.g. `python src/sweep.py --seeds auto optimizer=sgd,adam`; `python src/sweep.py --resume DIR [--budget MIN]`
continues one. Exits non-zero when the sweep or any of its jobs failed; the report is written all the same."""

import sys

from fashionlab.command import sweep_main

if __name__ == "__main__":
    sys.exit(sweep_main())
