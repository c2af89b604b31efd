#!/usr/bin/env bash
# Quickstart: the whole emgaug chain on the built-in simulated dataset (no download), a few minutes on a laptop CPU.
#   simulate -> split (cross-subject) -> train SeqEMG-GAN and the ridge baseline -> synthesize -> benchmark
# Usage: bash pipelines/quickstart.sh [OUT_DIR]      (default runs/quickstart; EPOCHS=N and SEEDS=N override)
set -euo pipefail
OUT="${1:-runs/quickstart}"
EPOCHS="${EPOCHS:-15}"
SEEDS="${SEEDS:-3}"
mkdir -p "$OUT"

emgaug simulate --out "$OUT/data" --seed 0
emgaug split --data "$OUT/data" --protocol cross-subject --seed 0 --out "$OUT/cross_subject.json"
for model in seqemg_gan ridge; do
  emgaug train --manifest "$OUT/cross_subject.json" --model "$model" --profile fast --epochs "$EPOCHS" --seed 0 \
    --out "$OUT/models/$model" --resume
  emgaug synthesize --checkpoint "$OUT/models/$model/best.pt" --out "$OUT/synthetic/$model" --seed 0 --overwrite
done
for model in seqemg_gan ridge; do
  emgaug benchmark --manifest "$OUT/cross_subject.json" --synthetic "$OUT/synthetic/$model" --seeds "$SEEDS" \
    --out "$OUT/benchmark/$model"
done
echo "Reports: $OUT/benchmark/seqemg_gan/report.html and $OUT/benchmark/ridge/report.html"
