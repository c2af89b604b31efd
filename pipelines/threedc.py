"""3DC raw-EMG chain: the raw-signal metrics and the classifier benchmark on raw 1 kHz EMG (no kinematics).

    python pipelines/threedc.py --data ../shared/data/3dc --out runs/threedc

3DC has no joint angles, so no generator is conditioned on it. It serves two checks:
1. RR gesture classification on raw EMG (train recording block -> later test block, i.e. cross-session), SVM, RF
   and the deep decoders over several seeds;
2. the raw-signal similarity metrics on real data, as reference points: each test-block window against a window of
   the same participant and gesture from the training block ("real vs real": what a perfect generator could
   reach), and against a surrogate with the same per-channel RMS but a white spectrum ("white surrogate": what
   a generator that gets only the amplitude right would score). PSD distance and median/mean frequency error
   must separate the two.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def real_pairs(train, test, seed: int = 0, exclude: str | None = None,
               with_index: bool = False) -> tuple[np.ndarray, ...]:
    """For each test window, a random training-block window of the same participant and gesture (seeded).

    `train` may be any pool of windows (e.g. the test split itself); `exclude` names a meta column whose value must
    differ between a test window and its partner (e.g. "session": a recording from another session). Test windows
    without a partner are left out; `with_index` also returns the indices of the test windows kept."""
    rng = np.random.default_rng(seed)
    key = lambda m: (m["user"], m["stage"])  # noqa: E731
    pool: dict[tuple, list[int]] = {}
    train_meta = train.meta.to_dict("records")
    for i, m in enumerate(train_meta):
        pool.setdefault(key(m), []).append(i)
    idx_test, idx_train = [], []
    for i, m in enumerate(test.meta.to_dict("records")):
        cands = pool.get(key(m))
        if cands and exclude is not None:
            cands = [j for j in cands if train_meta[j][exclude] != m[exclude]]
        if cands:
            idx_test.append(i)
            idx_train.append(int(rng.choice(cands)))
    if with_index:
        return test.emg[idx_test], train.emg[idx_train], np.asarray(idx_test, dtype=np.int64)
    return test.emg[idx_test], train.emg[idx_train]


def white_surrogate(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Gaussian white noise with each window-channel's mean and RMS deviation: right amplitude, wrong spectrum."""
    rng = np.random.default_rng(seed)
    mu = x.mean(-1, keepdims=True)
    sd = x.std(-1, keepdims=True)
    return (mu + sd * rng.standard_normal(x.shape)).astype(np.float32)


def run(data: Path, out: Path, seeds: int, classifiers: list[str], window_s: float, max_pairs: int) -> dict[str, Any]:
    from emgaug.benchmark import run_benchmark
    from emgaug.benchmark.data import load_split_windows
    from emgaug.data.source import open_source
    from emgaug.data.splits import make_split
    from emgaug.data.windows import WindowConfig
    from emgaug.metrics.similarity import similarity_report

    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    src = open_source(data, "3dc")
    manifest = make_split(src, "cross-session", seed=0)
    manifest.save(out / "cross-session.json")
    timings["split"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    bench = run_benchmark([manifest.path], [], classifiers=classifiers, seeds=seeds, metrics=False, window_s=window_s,
                          out=out / "benchmark", show_progress=False)
    timings["classifiers_rr"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    window = WindowConfig(window_s=window_s, stride_s=window_s).resolve(src.sample_rate)
    train = load_split_windows(manifest, "train", window)
    test = load_split_windows(manifest, "test", window)
    real, ref = real_pairs(train, test)
    if len(real) > max_pairs:
        keep = np.sort(np.random.default_rng(0).choice(len(real), max_pairs, replace=False))
        real, ref = real[keep], ref[keep]
    sims = {"real vs real (other block, same gesture)": similarity_report(real, ref, src.sample_rate, with_dtw=True),
            "white surrogate vs real": similarity_report(real, white_surrogate(real), src.sample_rate, with_dtw=True)}
    timings["metrics"] = round(time.perf_counter() - t, 2)
    run0 = bench["runs"][0]
    summary = {"data": str(data), "window_s": window_s, "seeds": seeds, "timings_s": timings,
               "rr": [{k: r[k] for k in ("classifier", "accuracy_mean", "accuracy_sd", "macro_f1_mean", "macro_f1_sd")}
                      for r in run0["summary"] if r["condition"] == "RR"],
               "counts": run0["counts"], "n_pairs": len(real),
               "similarity": {name: {m: {"mean": v["mean"], "sd": v.get("sd")} for m, v in rep["metrics"].items()}
                              for name, rep in sims.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "summary.md").write_text(markdown(summary))
    return summary


def markdown(s: dict[str, Any]) -> str:
    lines = [f"3DC raw EMG, 1 kHz, {s['window_s']} s windows; counts {s['counts']}", "",
             "| classifier | RR accuracy (%) | RR macro F1 (%) |", "|---|---|---|"]
    for r in s["rr"]:
        lines.append(f"| {r['classifier']} | {100 * r['accuracy_mean']:.1f} ± {100 * r['accuracy_sd']:.1f} | "
                     f"{100 * r['macro_f1_mean']:.1f} ± {100 * r['macro_f1_sd']:.1f} |")
    names = list(s["similarity"])
    metrics = [m for m in next(iter(s["similarity"].values())) if m not in ("discriminative_score", "trts_accuracy")]
    lines += ["", f"| metric ({s['n_pairs']} test windows) | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for m in metrics:
        cells = [f"{s['similarity'][n][m]['mean']:.4g} ± {s['similarity'][n][m]['sd']:.2g}" for n in names]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "Step timings (s): " + ", ".join(f"{k} {v}" for k, v in s["timings_s"].items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/3dc"))
    ap.add_argument("--out", type=Path, default=Path("runs/threedc"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--classifiers", default="svm,rf,tds_rnn,neuropose")
    ap.add_argument("--window-s", type=float, default=0.25)
    ap.add_argument("--max-pairs", type=int, default=1000)
    a = ap.parse_args(argv)
    run(a.data, a.out, a.seeds, a.classifiers.split(","), a.window_s, a.max_pairs)
    print((a.out / "summary.md").read_text())


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
