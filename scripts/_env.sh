# Shared by run.sh and test.sh: a project virtualenv with Librarian installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LIBRARIAN_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

install_librarian() {  # $1: extras, e.g. "postgres" or "dev"
    # Installs only when the project's declared dependencies, the extras or the Python
    # changed since the last install (a stamp in the venv), so a restart is instant and
    # an installed site starts with no package index reachable.
    local stamp="$VENV/.librarian-installed-$1" want
    want="$("$PYTHON" -c 'import sys; print(sys.version)' | head -n1) $(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    local done_stamp
    for done_stamp in "$stamp" "$VENV/.librarian-installed-dev"; do  # dev has every extra
        if [ -x "$VENV/bin/python" ] && [ -f "$done_stamp" ] && [ "$(cat "$done_stamp")" = "$want" ]; then
            return 0
        fi
    done
    echo "Installing Librarian [$1] into $VENV (the first time takes a few minutes)..." >&2
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV"
    fi
    if "$VENV/bin/python" -m pip install --progress-bar on -e "$ROOT[$1]" >&2; then
        echo "$want" >"$stamp"
        echo "Installed." >&2
    elif [ -x "$VENV/bin/librarian-server" ]; then
        echo "Could not update the install (is a package index reachable?); using the installed version." >&2
    else
        echo "Installing failed: see pip's message above (a package index must be reachable the first time)." >&2
        return 1
    fi
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
