#!/usr/bin/env bash
# Install Librarian with its test dependencies into .venv and run the whole suite:
# unit, integration and end-to-end, on SQLite and on the PostgreSQL at 127.0.0.1:5432.
# LIBRARIAN_REQUIRE_POSTGRES=0 lets the PostgreSQL tests skip where there is none.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
install_librarian dev
export LIBRARIAN_REQUIRE_POSTGRES="${LIBRARIAN_REQUIRE_POSTGRES:-1}"
if [ "$LIBRARIAN_REQUIRE_POSTGRES" = 1 ]; then
    ensure_postgres
fi
cd "$ROOT"
export PATH="$VENV/bin:$PATH"
exec "$VENV/bin/python" -m pytest "$@"
