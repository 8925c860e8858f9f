#!/usr/bin/env bash
# One-time set-up of probekit on a fresh machine (idempotent; fast when already done).
# torch and torchvision are installed first, as the one pair that imports together here,
# so that pip never goes looking for another multi-GB build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch, torchvision" >/dev/null 2>&1; then
  echo "probekit setup: installing torch==2.14.1 torchvision==0.29.1 (about 100 s, 5.5 GB)"
  "$PY" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
fi
stamp=.setup-stamp
want="$(sha256sum pyproject.toml | cut -c1-64) $("$PY" -c 'import sys;print(sys.prefix)')"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
   || ! "$PY" -c "import probekit, pybullet, h5py, sklearn, transformers, pytest, nbclient" >/dev/null 2>&1; then
  echo "probekit setup: installing probekit and its dependencies"
  "$PY" -m pip install -q -e ".[test]"
  echo "$want" > "$stamp"
fi
if [ "${PROBEKIT_SETUP_BROWSER:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "probekit setup: installing Debian's chromium for the report test"
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || { echo "probekit setup: could not install chromium"; exit 1; }
fi
