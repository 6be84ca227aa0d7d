#!/usr/bin/env bash
# Installs checkov into its own virtual environment, .venv/checkov: checkov pins packaging<24
# while pytest 9 needs packaging>=24, so it cannot share .venv. tests/infra runs it from there.
# Cheap when nothing changed: reinstalls only when infra/requirements-checkov.txt is newer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
TOOLS=.venv/checkov
STAMP="$TOOLS/.requirements.stamp"

if [[ -f "$STAMP" && "$STAMP" -nt infra/requirements-checkov.txt ]]; then
  exit 0
fi
test -x "$TOOLS/bin/python" || "$PYTHON" -m venv "$TOOLS"
"$TOOLS/bin/python" -m pip install --disable-pip-version-check -q -r infra/requirements-checkov.txt
touch "$STAMP"
