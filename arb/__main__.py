import sys

from arb.cli import main

sys.exit(main())
