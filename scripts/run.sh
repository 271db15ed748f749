#!/usr/bin/env bash
# Install Librarian into .venv and start the embedded default (SQLite + a POSIX store
# under the data directory; ~/.local/share/librarian unless --data-dir is given).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
install_librarian postgres
exec "$VENV/bin/librarian-server" run "$@"
