#!/usr/bin/env bash
# Install botcore and everything its tests need, then run the whole test suite.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh
setup_venv
install_chromium   # headless browser for the dashboard and report tests
.venv/bin/ruff check botcore tests benchmarks pipelines dashboards   # lint and import order (pyproject.toml)
.venv/bin/mypy                                                       # types of the non-kernel packages
exec .venv/bin/python -m pytest "$@"
