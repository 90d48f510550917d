"""`python -m ingest ...` is `custodian ingest ...`."""

import sys

from ingest.cli import main

sys.exit(main())
