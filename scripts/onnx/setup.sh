#!/usr/bin/env bash
# Creates target/onnx-venv (if missing) and installs scripts/onnx/requirements.txt
# into it. Safe to run again: an existing venv is reused and pip skips what is
# already installed at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/onnx-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --disable-pip-version-check -q -r scripts/onnx/requirements.txt
echo "ready: $venv/bin/python ($("$venv/bin/python" -c 'import onnxruntime as o; print("onnxruntime", o.__version__)'))"
