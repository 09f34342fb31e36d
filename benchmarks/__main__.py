"""`python -m benchmarks`: run every section of the budget harness (see `benchmarks.harness`)."""

import sys

from benchmarks.harness import main

sys.exit(main())
