#!/usr/bin/env bash
# The same checks locally and in review: ruff (lint + format) and mypy --strict.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
cd "$ROOT"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
