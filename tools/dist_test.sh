#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NGPUS [test.py options]
CONFIG=$1
CHECKPOINT=$2
NGPUS=$3
PORT=${PORT:-29500}
PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
torchrun --nproc_per_node="$NGPUS" --master_port="$PORT" \
    "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
