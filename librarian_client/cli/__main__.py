"""``python -m librarian_client.cli``."""

import sys

from librarian_client.cli.main import main

sys.exit(main())
