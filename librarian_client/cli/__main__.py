"""``python -m librarian_client.cli``."""

import sys

from .main import main

sys.exit(main())
