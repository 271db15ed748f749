# Shared by run.sh and test.sh: a project virtualenv with Librarian installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LIBRARIAN_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

install_librarian() {  # $1: extras, e.g. "postgres" or "dev"
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[$1]"
}

ensure_postgres() {  # start the local cluster when it is installed but down
    if command -v pg_isready >/dev/null && pg_isready -h 127.0.0.1 -p 5432 -q; then
        return 0
    fi
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
        for _ in $(seq 1 30); do
            pg_isready -h 127.0.0.1 -p 5432 -q && return 0
            sleep 1
        done
    fi
    echo "PostgreSQL is not reachable at 127.0.0.1:5432" >&2
    return 1
}
