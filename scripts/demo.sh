#!/usr/bin/env bash
# Install botcore, then run the main job: the bot in paper mode on the bundled sample market.
# Usage: bash scripts/demo.sh [botcore demo args]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh
setup_venv
exec .venv/bin/botcore demo "$@"
