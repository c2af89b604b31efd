#!/usr/bin/env bash
# emg2pose chain with the paper's settings, on a user's emg2pose download (full 431 GiB or the mini subset).
#   split (4 protocols) -> train SeqEMG-GAN (paper profile: SGD 0.9, wd 5e-4, lr 0.002, batch 32, 100 epochs)
#   and the ridge baseline -> synthesize from the training angles -> benchmark RR / GR / MR (5 seeds).
# Usage: bash pipelines/emg2pose.sh EMG2POSE_DIR [OUT_DIR]
#   env: GPUS=N (torchrun over N GPUs), EPOCHS (100), PROFILE (paper), WORKERS (8), MAX_TRAIN_WINDOWS (all),
#        PROTOCOLS ("sample-wise cross-subject cross-session cross-user-stage"), SEEDS (5)
set -euo pipefail
DATA="${1:?usage: bash pipelines/emg2pose.sh EMG2POSE_DIR [OUT_DIR]}"
OUT="${2:-runs/emg2pose}"
EPOCHS="${EPOCHS:-100}"
PROFILE="${PROFILE:-paper}"
WORKERS="${WORKERS:-8}"
SEEDS="${SEEDS:-5}"
GPUS="${GPUS:-1}"
PROTOCOLS="${PROTOCOLS:-sample-wise cross-subject cross-session cross-user-stage}"
EXTRA=()
[ -n "${MAX_TRAIN_WINDOWS:-}" ] && EXTRA+=(--max-train-windows "$MAX_TRAIN_WINDOWS")
# a finished synthetic set is there (the set folder holds only Parquet: its metadata is in the part files)
is_synthetic_set() { python -c 'import sys; from emgaug.synthesis.parquet_io import is_synthetic_set as f; sys.exit(0 if f(sys.argv[1]) else 1)' "$1"; }
if [ "$GPUS" -gt 1 ]; then TRAIN=(torchrun --standalone --nproc_per_node "$GPUS" -m emgaug train); else TRAIN=(emgaug train); fi

manifests=(); synthetic=()
for protocol in $PROTOCOLS; do
  manifest="$OUT/manifests/$protocol.json"
  [ -f "$manifest" ] || emgaug split --data "$DATA" --protocol "$protocol" --seed 0 --out "$manifest"
  for model in seqemg_gan ridge; do
    "${TRAIN[@]}" --manifest "$manifest" --model "$model" --profile "$PROFILE" --epochs "$EPOCHS" --seed 0 \
      --workers "$WORKERS" --out "$OUT/models/$protocol/$model" --resume "${EXTRA[@]}"
    # cross-user-stage: condition on the kinematics pool (training users' angles on the held-out stages), so the
    # synthetic set holds the unseen gestures; every other protocol conditions on the training split
    split=train; [ "$protocol" = cross-user-stage ] && split=kinematics_pool
    is_synthetic_set "$OUT/synthetic/$protocol/$model" || \
      emgaug synthesize --checkpoint "$OUT/models/$protocol/$model/best.pt" --split "$split" \
        --out "$OUT/synthetic/$protocol/$model" --seed 0
  done
  manifests+=(--manifest "$manifest"); synthetic+=(--synthetic "$OUT/synthetic/$protocol/seqemg_gan")
done
emgaug benchmark "${manifests[@]}" "${synthetic[@]}" --seeds "$SEEDS" --out "$OUT/benchmark/seqemg_gan"
echo "Report: $OUT/benchmark/seqemg_gan/report.html"
