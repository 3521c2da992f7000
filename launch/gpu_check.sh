#!/usr/bin/env bash
# One GPU node, end to end: what the node is and its measured GEMM peaks, a short `standard` run
# (bf16, fused attention, batches probed to fit the GPU), then how well each trial used the chip.
#
#   launch/gpu_check.sh [OUT_DIR] [DURATION]      defaults: results/gpu-check-<time>, 5m
#
# Everything printed is also kept in OUT_DIR/gpu_check.log. A 5-minute run is shorter than the
# standard spec's minimum (1 h), so its summary says INVALID: this checks the machine and the GPU
# path, it is not a result to submit. Set AIPERF to use another aiperf command (e.g. in a venv).
set -euo pipefail

out=${1:-results/gpu-check-$(date +%Y%m%d-%H%M%S)}
duration=${2:-5m}
aiperf=${AIPERF:-aiperf}
mkdir -p "$out"

section() { printf '\n== %s\n' "$*"; }

check() {
  section "node: CPU, GPUs, datasheet and measured GEMM peaks per precision"
  $aiperf sysinfo
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,power.limit,clocks.max.sm --format=csv

  section "a ${duration} standard run: FLOPS, utilisation against the datasheet, energy and FLOPS/W"
  $aiperf run --spec standard --duration "$duration" --out "$out/run"

  section "per trial: achieved FLOP/s as a share of the dense bf16 peak (goal on an H200: ≥ 40%)"
  $aiperf efficiency "$out/run" --precision bf16

  section "the same as JSON: $out/efficiency.json"
  $aiperf efficiency "$out/run" --precision bf16 --json > "$out/efficiency.json"
  echo "done: $out"
}

check 2>&1 | tee -a "$out/gpu_check.log"  # a pipeline: the log is whole when the script ends
exit "${PIPESTATUS[0]}"
