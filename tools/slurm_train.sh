#!/usr/bin/env bash
# Usage: [GPUS=16 GPUS_PER_NODE=8 CPUS_PER_TASK=5 SRUN_ARGS=...] \
#     tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
# One task per GPU (GPUS tasks, GPUS_PER_NODE per node); each runs tools/train.py with
# --launcher slurm, which reads its rank from SLURM_PROCID and the master from SLURM_NODELIST.
# PORT (default 29500) is the master's port.
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PY_ARGS=("${@:5}")

# shellcheck disable=SC2086  # SRUN_ARGS is a list of options
PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH MASTER_PORT=${PORT:-29500} \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    python -u "$(dirname "$0")/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher="slurm" \
    "${PY_ARGS[@]}"
