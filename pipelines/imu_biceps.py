"""IMU biceps chain: raw biceps EMG at 2148 Hz from the 6-axis wrist IMU during curls (issue 15; the setting of
the IMU->sEMG Sliding-Window WaveNet seed, Basak et al. 2025).

    python pipelines/imu_biceps.py --data ../shared/data/imu_biceps --out runs/imu_biceps

Every generator (wavenet, the seed's own model, plus flow, seqemg_gan, seqemg_gan_paper, the ridge floors and the
oracle ceiling) gets the same budget (--epochs x at most --max-train-windows windows of 1 s: 2150 EMG samples, the
IMU resampled onto the EMG clock and fed as 50 frames of 43 samples), on two protocols: cross-session (set =
session: each person's last set is test, the one before val, i.e. cross-set within person) and cross-subject (people
disjoint). One recording = one repetition; labels are the effort classes from the rated perceived exertion
(low 1-5, mid 6-7, high 8-10; `--label load` for the load classes). The tables: RR / GR / MR
(pipelines/ninapro_db1.py's) and, on the held-out repetitions, the raw-signal similarity next to the real-vs-real
(a repetition of the same person and effort class from another set) and white-surrogate reference points, window
EECC per subject and the repetition-locked envelope correlation per subject (pipelines/_chain.py).

Cross-subject holds out 2 of the 5 people (--test-frac 0.4 with --split-seed 0: P714 and T456; A321, who recorded
63 % of the data, and G998 train, T417 validates), so that the Wilcoxon tests have more than one test person. It
carves no calibration split by default (--calibration-s 0): with effort-class labels a person's first seconds per
class end mid-set, and emgaug's calibration carving leaves no gap between such a repetition and the next repetition
of the same set (the manifest check refuses it); person-conditioned generators render the test people in the
population (null) style.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _chain  # noqa: E402

PROTOCOLS = ("cross-session", "cross-subject")
MODELS = ("wavenet", "flow", "seqemg_gan", "seqemg_gan_paper", "ridge", "ridge_user")


def dataset(label: str = "rpe_class", test_frac: float = 0.4, split_seed: int = 0,
            calibration_s: float | None = None) -> _chain.DatasetChain:
    """The IMU biceps chain: cross-set within person, and cross-subject; repetition-locked envelopes."""
    calib = calibration_s or None
    return _chain.DatasetChain(
        kind="imu_biceps", title="IMU biceps curls", angle_rate_hz=50.0, rep_locked=True,
        source_options={"label": label},
        protocols={
            "cross-session": _chain.Protocol(
                "cross-session", {"seed": 0}, partner_split="train", partner_exclude="session",
                partner_note="a training set (session) of the same person"),
            "cross-subject": _chain.Protocol(
                "cross-subject", {"seed": split_seed, "test_frac": test_frac, "calibration_s": calib},
                partner_split="test", partner_exclude="session",
                partner_note="another held-out set of the same person"),
        })


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _chain.add_arguments(ap, "../shared/data/imu_biceps", "runs/imu_biceps", PROTOCOLS)
    ap.set_defaults(models=",".join(MODELS))
    ap.add_argument("--label", default="rpe_class", help="Class label: rpe_class (effort low/mid/high), load or rpe.")
    ap.add_argument("--test-frac", type=float, default=0.4, help="cross-subject: fraction of people held out.")
    ap.add_argument("--split-seed", type=int, default=0, help="cross-subject: seed of the people drawn.")
    ap.add_argument("--calibration-s", type=float, default=0.0, help="cross-subject: seconds of each test person's "
                    "recordings per label kept as calibration (0 = none; see above).")
    a = ap.parse_args(argv)
    return _chain.main_with(dataset(a.label, a.test_frac, a.split_seed, a.calibration_s), a)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
