"""``python -m librarian_server.background``: the same as ``librarian-server background``."""

import sys

from ..cli import main

sys.exit(main(["background", *sys.argv[1:]]))
