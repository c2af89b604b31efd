"""UCI lower limb chain: raw 4-channel leg EMG at 1 kHz from the knee goniometer angle (issue 15).

    python pipelines/uci_lower_limb.py --data ../shared/data/uci_lower_limb --out runs/uci_lower_limb

Every generator (flow, seqemg_gan, seqemg_gan_paper, wavenet, the ridge floors, the oracle ceiling) gets the same
budget (--epochs x at most --max-train-windows windows of 1 s at 1 kHz; the knee angle in 50 Hz frames), on two
protocols: cross-subject (3 of 16 people held out, the first --calibration-s seconds of each of their task
recordings kept as calibration: person-conditioned generators render as them from it, RR/MR train on it too) and
sample-wise (blocks of --block-s seconds of every recording assigned to train / val / test with a gap). Labels are
the tasks (gait, sitting, standing). The tables: RR / GR / MR (pipelines/ninapro_db1.py's), and the held-out
similarity of EMG rendered from the test people's knee angles to their real EMG, next to the real-vs-real (another
stretch of the same person's task recording: the calibration split, or the training blocks) and white-surrogate
reference points (pipelines/_chain.py). Resumable; `summary.md` / `summary.json` in --out hold the tables
docs/results.md quotes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _chain  # noqa: E402

PROTOCOLS = ("cross-subject", "sample-wise")


def dataset(calibration_s: float | None = 3.0, block_s: float = 3.0, gap_s: float = 1.0) -> _chain.DatasetChain:
    """The UCI lower-limb chain: cross-subject with a calibration split of the test people, and sample-wise blocks
    (each person has one recording per task, so there is no session to split by)."""
    calib = calibration_s or None
    return _chain.DatasetChain(
        kind="uci_lower_limb", title="UCI lower limb", angle_rate_hz=50.0,
        protocols={
            "cross-subject": _chain.Protocol(
                "cross-subject", {"seed": 0, "calibration_s": calib, "gap_s": gap_s},
                partner_split="calibration" if calib else "test",
                partner_note=(f"the first {calib:g} s of the same task recording, {gap_s:g} s before the test part"
                              if calib else "the same task recording")),
            "sample-wise": _chain.Protocol(
                "sample-wise", {"seed": 0, "block_s": block_s, "gap_s": gap_s}, partner_split="train",
                partner_note=f"training blocks of the same task recording ({block_s:g} s blocks, {gap_s:g} s gaps)"),
        })


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _chain.add_arguments(ap, "../shared/data/uci_lower_limb", "runs/uci_lower_limb", PROTOCOLS)
    ap.add_argument("--calibration-s", type=float, default=3.0, help="cross-subject: seconds at the start of each "
                    "test person's task recordings kept as calibration (0 = none).")
    ap.add_argument("--block-s", type=float, default=3.0, help="sample-wise: block length in seconds.")
    ap.add_argument("--gap-s", type=float, default=1.0, help="gap between splits within a recording, seconds.")
    a = ap.parse_args(argv)
    return _chain.main_with(dataset(a.calibration_s, a.block_s, a.gap_s), a)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
