#!/usr/bin/env bash
# The whole text-to-video chain on a rented CUDA GPU in one command that fits a short lease, with the checkpoints
# handed back in pieces small enough to travel (at most 16 MB a file):
#
#   training/tools/gpu_train.sh MINUTES OUT_DIR          # e.g. on the device machine: training/tools/gpu_train.sh 8 "$OUT"
#   training/tools/gpu_unpack.sh OUT_DIR                 # back here: rebuilds training/checkpoints/, then
#   cd training && python3 -m mav_training.evaluate --seeds 2 && python3 -m mav_training.train --stage export
#
# MINUTES is split over the stages in the proportions below (D and D^t get most of it); the SR models are
# independent of the text side and are not retrained here. Batches are 8× the CPU ones, rendered by worker
# processes (one per spare core), and every stage starts from scratch in $CHECKPOINTS (default checkpoints/).
# DEVICE=cpu runs the same script on a CPU (a smoke test of the script, not a way to train).
set -euo pipefail
MINUTES=${1:?minutes of training in all}
OUT=${2:?directory for the packed checkpoints}
cd "$(dirname "$0")/.."
CORES=$(nproc)
WORKERS=$((CORES > 4 ? CORES - 2 : 2))
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
CK=${CHECKPOINTS:-checkpoints}
SCALE=8
if [[ $DEVICE == cuda ]]; then
  $PY -c 'import torch, numpy; assert torch.cuda.is_available(), "no CUDA device"; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
else
  SCALE=1
fi
mkdir -p "$OUT"
LOG="$OUT/gpu_train.log"
share() { $PY -c "print(round($MINUTES * $1, 2))"; }
run() {
  stage=$1; shift
  $PY -m mav_training.train --stage "$stage" --device "$DEVICE" --batch-scale $SCALE --workers "$WORKERS" \
      --threads 2 --checkpoints "$CK" --no-export "$@" 2>&1 | tee -a "$LOG"
}
$PY -m mav_training.train --stage tokenizer --checkpoints "$CK" --no-export 2>&1 | tee -a "$LOG"
run clip --minutes "$(share 0.08)"
run prior --minutes "$(share 0.07)"
run decoder --minutes "$(share 0.45)"
run decoder_video --minutes "$(share 0.28)"
run interpolator --minutes "$(share 0.12)"
$PY -m mav_training.train --stage pack --checkpoints "$CK" --pack-dir "$CK/packed" 2>&1 | tee -a "$LOG"
tar -C "$CK/packed" -cf - . | split -b 15m - "$OUT/checkpoints.tar.part-"
ls -l "$OUT"
