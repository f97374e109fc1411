"""`python -m crm.cli`: the same as the `fostercrm` command."""

import sys

from crm.cli import run

sys.exit(run())
