"""``python -m librarian_server ARGS``: the same as ``librarian-server ARGS``."""

import sys

from librarian_server.cli import main

sys.exit(main(sys.argv[1:]))
