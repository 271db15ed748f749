"""``python -m librarian_server.background``: the same as ``librarian-server background``."""

import sys

from librarian_server.cli import main

sys.exit(main(["background", *sys.argv[1:]]))
