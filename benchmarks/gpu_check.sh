#!/usr/bin/env bash
# GPU check of lwa (< 5 minutes on one GPU): extraction throughput (utt/s, real-time factor)
# of base and large random-weight models, single vs batched with the batching certificate,
# the CCA statistics pass and faiss k-means on the device, each compared with the CPU.
# Prints one table and exits 1 when a GPU result differs from the CPU result beyond its
# tolerance. Usage: benchmarks/gpu_check.sh [--device cuda] [--utterances 24] [--tiny]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
exec env PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout 290 "$PY" benchmarks/gpu_check.py "$@"
