#!/usr/bin/env bash
# Every GPU check and benchmark of the project, in one run (at most 9 minutes: fits one device call).
# Usage on the device machine:  bash benchmarks/gpu_checks.sh "$OUT"
# Writes one log per step under the output folder; prints the card and a summary.
set -u
out="${1:-gpu-out}"
mkdir -p "$out"
pip install -q -e '.[test]' >"$out/install.log" 2>&1 || { echo "install failed"; tail -5 "$out/install.log"; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/card.txt"
run() {  # name, timeout, command...
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s)
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "$name: rc=$? in $(( $(date +%s) - t0 )) s"
}
run cuda_tests 120 python -m pytest -q -m gpu -p no:cacheprovider tests/
# engine.py also times the streamed EmpiricalScore, so empirical_score.py is not needed here
run engine_bench 300 python benchmarks/engine.py --device cuda --N 784 3072 --P 100000 1000000 --B 1024 --repeats 3 --huge
run networks_cuda 120 regimes compare networks --device cuda --out "$out/networks" --quiet
tail -3 "$out/cuda_tests.log"; cat "$out/engine_bench.log"
