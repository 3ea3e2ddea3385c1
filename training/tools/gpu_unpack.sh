#!/usr/bin/env bash
# Rebuilds training/checkpoints/ from the pieces tools/gpu_train.sh wrote (EMA weights and training records; an
# existing checkpoint of the same stage is replaced).
#   training/tools/gpu_unpack.sh DIR_WITH_PARTS [CHECKPOINTS_DIR]
set -euo pipefail
SRC=${1:?directory holding checkpoints.tar.part-*}
DEST=${2:-$(dirname "$0")/../checkpoints}
mkdir -p "$DEST"
cat "$SRC"/checkpoints.tar.part-* | tar -x -C "$DEST"
ls -l "$DEST"
