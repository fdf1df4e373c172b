#!/usr/bin/env python3
"""Run the mirror CLI from a clone without installing: `python mirror.py --help`."""

import sys

from mirror.cli import main

if __name__ == "__main__":
    sys.exit(main(prog_name="mirror"))
