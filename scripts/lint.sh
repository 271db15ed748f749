#!/usr/bin/env bash
# The same checks locally, in review and in CI: ruff (lint + format), mypy --strict, and the
# import contracts of pyproject.toml (the layers).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
"$VENV/bin/lint-imports" --no-cache
