#!/usr/bin/env bash
# GPU check (issue 6): profile the small preset on a CUDA GPU, validate the table's fidelity, print the figures.
#
#   bash benchmarks/gpu_check.sh            # PYTHON=/path/to/python OUT=/tmp/x to override
#
# Needs a CUDA build of torch and an NVIDIA GPU; takes under 5 minutes (each step is capped).
# It runs: the GPU tests (pytest -m cuda), then for torch-cuda (eager) and torch-cuda-graphs
# (CUDA-graph replay) a full profile of fbnet-small and a validation on 30 held-out networks.
# The table files and validation plots stay in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT:-/tmp/edgenas-gpu-check}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
start=$(date +%s)

"$PY" - <<'PYEOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"gpu_check: no CUDA device (torch {torch.__version__}, cuda {torch.version.cuda}); nothing to check")
p = torch.cuda.get_device_properties(0)
print(f"gpu: {p.name}, {p.total_memory / 2**30:.0f} GiB, capability {p.major}.{p.minor}; "
      f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
PYEOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,pstate --format=csv || true

echo "== GPU tests"
timeout 90 "$PY" -m pytest -q -m "cuda and not slow" tests/test_gpu.py tests/test_profiler_conformance.py -rs || echo "gpu_check: GPU tests failed (see above)"

for backend in torch-cuda torch-cuda-graphs; do
  table="$OUT/fbnet-small.$backend.json"
  echo "== profile fbnet-small on $backend"
  timeout 80 "$PY" cli.py profile --space fbnet-small --backend "$backend" -o "$table" \
    --min-time 0.2 --calibration-networks 12 --quiet --restart
  echo "== validate $table (30 held-out networks)"
  timeout 60 "$PY" cli.py table validate "$table" -n 30 --quiet
done
echo "gpu_check: done in $(( $(date +%s) - start )) s; tables in $OUT"
