#!/usr/bin/env bash
# Quickstart: the whole emgaug chain on the built-in simulated dataset (no download), ~7 minutes on two CPU cores.
#   simulate -> split (cross-session) -> train the flow-matching generator, SeqEMG-GAN and the two ridge floors
#   -> synthesize (plus the oracle: the real training EMG written as a synthetic set) -> benchmark -> one table
# Usage: bash pipelines/quickstart.sh [OUT_DIR]   (default runs/quickstart; EPOCHS=N and SEEDS=N override)
# Resumable: finished training runs continue with --resume; sets and benchmarks are remade.
set -euo pipefail
OUT="${1:-runs/quickstart}"
EPOCHS="${EPOCHS:-10}"
SEEDS="${SEEDS:-3}"
WINDOW=(--window-s 0.25)  # short windows: more of them from 4 simulated people, cheaper steps on a CPU
mkdir -p "$OUT"

emgaug simulate --out "$OUT/data" --seed 0
emgaug split --data "$OUT/data" --protocol cross-session --seed 0 --out "$OUT/cross_session.json"

# the headline generator at a CPU budget (a narrow U-Net, 0.125 s stride, 10 epochs: ~3 minutes), with the ridge
# amplitude prior: the flow works relative to a pooled ridge's envelope (without it, this budget gives chance level)
emgaug train --manifest "$OUT/cross_session.json" --model flow --profile fast --epochs "$EPOCHS" --seed 0 \
  "${WINDOW[@]}" --stride-s 0.125 --batch-size 16 --lr 1e-3 \
  --set width=16 --set prior=ridge --out "$OUT/models/flow" --resume
# SeqEMG-GAN (person-conditioned) at the same budget
emgaug train --manifest "$OUT/cross_session.json" --model seqemg_gan --profile fast --epochs "$EPOCHS" --seed 0 \
  "${WINDOW[@]}" --stride-s 0.125 --batch-size 16 --out "$OUT/models/seqemg_gan" --resume
# the floors every generator must beat: one closed-form ridge per person, and one pooled over people
for model in ridge_user ridge; do
  emgaug train --manifest "$OUT/cross_session.json" --model "$model" --seed 0 "${WINDOW[@]}" \
    --out "$OUT/models/$model" --resume
done
for model in flow seqemg_gan ridge_user ridge; do
  emgaug synthesize --checkpoint "$OUT/models/$model/best.pt" --out "$OUT/synthetic/$model" --seed 0 --overwrite
done
# the ceiling: the real training EMG in the synthetic schema (what a perfect generator would give)
emgaug synthesize --manifest "$OUT/cross_session.json" --oracle-real "${WINDOW[@]}" --out "$OUT/synthetic/oracle" \
  --seed 0 --overwrite

for set in flow seqemg_gan ridge_user ridge oracle; do
  emgaug benchmark --manifest "$OUT/cross_session.json" --synthetic "$OUT/synthetic/$set" --classifiers svm,rf \
    --seeds "$SEEDS" --out "$OUT/benchmark/$set"
done

python - "$OUT" <<'EOF'
"""One table over the five benchmarks: RR, then each set's GR and MR - RR (mean over seeds), and a verdict."""
import csv
import statistics
import sys
from pathlib import Path

out = Path(sys.argv[1])
roles = {"flow": "generator", "seqemg_gan": "generator", "ridge_user": "per-user floor", "ridge": "pooled floor", "oracle": "ceiling"}
acc = {}
for name in roles:
    for row in csv.DictReader(open(out / "benchmark" / name / "results.csv")):
        if not row["augmentation"]:
            acc.setdefault((name, row["classifier"], row["condition"]), []).append(100 * float(row["accuracy"]))
mean = {k: statistics.mean(v) for k, v in acc.items()}
print(f"\nAccuracy (%) on the real test session, mean over {len(acc[('flow', 'rf', 'RR')])} seeds")
print(f"{'training data':<30}{'svm':>8}{'rf':>8}{'svm MR-RR':>11}{'rf MR-RR':>10}")
print(f"{'real EMG (RR)':<30}{mean[('flow', 'svm', 'RR')]:>8.1f}{mean[('flow', 'rf', 'RR')]:>8.1f}")
for name, role in roles.items():
    d = [mean[(name, c, "MR")] - mean[(name, c, "RR")] for c in ("svm", "rf")]
    print(f"{name + ' (' + role + ')':<30}{mean[(name, 'svm', 'GR')]:>8.1f}{mean[(name, 'rf', 'GR')]:>8.1f}"
          f"{d[0]:>+11.1f}{d[1]:>+10.1f}")
gap = mean[("flow", "rf", "GR")] - mean[("ridge_user", "rf", "GR")]
verdict = "above" if gap > 0 else "NOT above"
print(f"\nflow's RF GR is {abs(gap):.1f} points {'above' if gap > 0 else 'below'} the per-user floor's: {verdict} the "
      f"floor at this budget. Reports: {out}/benchmark/*/report.html; the README's Quick start says what to expect.")
EOF
