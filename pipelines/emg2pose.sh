#!/usr/bin/env bash
# emg2pose chain with the paper's settings, on a user's emg2pose download (full 431 GiB or the mini subset).
#   split (4 protocols) -> train SeqEMG-GAN (paper profile: SGD 0.9, wd 5e-4, lr 0.002, batch 32, 100 epochs)
#   and the ridge baseline -> synthesize from the training angles -> benchmark RR / GR / MR (5 seeds).
# Usage: bash pipelines/emg2pose.sh EMG2POSE_DIR [OUT_DIR]
#   env: GPUS=N (torchrun over N GPUs per node), EPOCHS (100), PROFILE (paper), WORKERS (8), MAX_TRAIN_WINDOWS (all),
#        PROTOCOLS ("sample-wise cross-subject cross-session cross-user-stage"), SEEDS (5)
#   several nodes: run the same command on every node with NNODES=N, NODE_RANK=0..N-1 and RDZV_ENDPOINT=host:port
#        (a port on node 0 that every node reaches; torchrun's c10d rendezvous), optionally RDZV_ID (emg2pose).
#        OUT_DIR must be on a filesystem every node sees (rank 0 writes checkpoints and finalizes the sharded
#        synthetic sets; --resume refuses to start when a node sees another checkpoint, or none). Training and
#        synthesis run on every node; the benchmark runs on node 0.
set -euo pipefail
DATA="${1:?usage: bash pipelines/emg2pose.sh EMG2POSE_DIR [OUT_DIR]}"
OUT="${2:-runs/emg2pose}"
EPOCHS="${EPOCHS:-100}"
PROFILE="${PROFILE:-paper}"
WORKERS="${WORKERS:-8}"
SEEDS="${SEEDS:-5}"
GPUS="${GPUS:-1}"
NNODES="${NNODES:-1}"
NODE_RANK="${NODE_RANK:-0}"
RDZV_ID="${RDZV_ID:-emg2pose}"
PROTOCOLS="${PROTOCOLS:-sample-wise cross-subject cross-session cross-user-stage}"
EXTRA=()
[ -n "${MAX_TRAIN_WINDOWS:-}" ] && EXTRA+=(--max-train-windows "$MAX_TRAIN_WINDOWS")
# a finished synthetic set is there (the set folder holds only Parquet: its metadata is in the part files)
is_synthetic_set() { python -c 'import sys; from emgaug.synthesis.parquet_io import is_synthetic_set as f; sys.exit(0 if f(sys.argv[1]) else 1)' "$1"; }
# launch STEP_ID emgaug-args...: emgaug on this node's GPUs (torchrun) and, with NNODES > 1, joined with the other
# nodes through the c10d rendezvous at RDZV_ENDPOINT (one rendezvous id per step, so steps never mix)
launch() {
  local step="$1"; shift
  if [ "$NNODES" -gt 1 ]; then
    : "${RDZV_ENDPOINT:?NNODES > 1 needs RDZV_ENDPOINT=host:port (node 0)}"
    torchrun --nnodes "$NNODES" --node-rank "$NODE_RANK" --nproc_per_node "$GPUS" --rdzv-backend c10d \
      --rdzv-endpoint "$RDZV_ENDPOINT" --rdzv-id "$RDZV_ID-$step" -m emgaug "$@"
  elif [ "$GPUS" -gt 1 ]; then
    torchrun --standalone --nproc_per_node "$GPUS" -m emgaug "$@"
  else
    emgaug "$@"
  fi
}

manifests=(); synthetic=()
for protocol in $PROTOCOLS; do
  manifest="$OUT/manifests/$protocol.json"
  [ -f "$manifest" ] || emgaug split --data "$DATA" --protocol "$protocol" --seed 0 --out "$manifest"
  for model in seqemg_gan ridge; do
    launch "train-$protocol-$model" train --manifest "$manifest" --model "$model" --profile "$PROFILE" \
      --epochs "$EPOCHS" --seed 0 --workers "$WORKERS" --out "$OUT/models/$protocol/$model" --resume "${EXTRA[@]}"
    # cross-user-stage: condition on the kinematics pool (training users' angles on the held-out stages), so the
    # synthetic set holds the unseen gestures; every other protocol conditions on the training split
    split=train; [ "$protocol" = cross-user-stage ] && split=kinematics_pool
    # sharded over every rank of every node (the set is the same rows whatever the number of ranks)
    is_synthetic_set "$OUT/synthetic/$protocol/$model" || \
      launch "synthesize-$protocol-$model" synthesize --checkpoint "$OUT/models/$protocol/$model/best.pt" \
        --split "$split" --out "$OUT/synthetic/$protocol/$model" --seed 0
  done
  manifests+=(--manifest "$manifest"); synthetic+=(--synthetic "$OUT/synthetic/$protocol/seqemg_gan")
done
[ "$NODE_RANK" -eq 0 ] || exit 0  # one process benchmarks (node 0)
emgaug benchmark "${manifests[@]}" "${synthetic[@]}" --seeds "$SEEDS" --out "$OUT/benchmark/seqemg_gan"
echo "Report: $OUT/benchmark/seqemg_gan/report.html"
