#!/usr/bin/env bash
# The same checks locally, in review and in CI: ruff (lint + format), codespell, mypy --strict over
# the packages, tests and benchmarks (pyproject.toml names them), the import contracts of
# pyproject.toml (the layers), and the container files (hadolint comes with the dev extra;
# docker-compose from Debian's package).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/codespell" librarian_server librarian_client tests bench scripts container stubs alembic \
    README.md pyproject.toml alembic.ini .ci/run
"$VENV/bin/mypy"
"$VENV/bin/lint-imports" --no-cache
"$VENV/bin/hadolint" container/Dockerfile
if command -v docker-compose >/dev/null; then
    (cd container && docker-compose -f compose.yaml config -q)
else
    echo "lint: compose file not checked: docker-compose is missing (apt-get install docker-compose)" >&2
fi
