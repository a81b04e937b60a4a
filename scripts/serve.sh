#!/usr/bin/env bash
# Builds the page and serves it with the bundled model: http://127.0.0.1:${PORT:-8080}/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-web.sh
exec python3 scripts/serve.py --dir www --port "${PORT:-8080}"
