"""The chain shared by the raw-EMG paired pipelines (pipelines/uci_lower_limb.py, pipelines/imu_biceps.py).

Per protocol: split -> train every generator with one budget (epochs x training windows) -> synthesize a set from
the training kinematics -> benchmark RR / GR / MR (floors, oracle ceiling and classic augmentations as rows, per
test user, Wilcoxon p), exactly as pipelines/ninapro_db1.py does (its helpers are imported, not copied). Raw EMG
adds what DB1's envelopes cannot show, all on the HELD-OUT test windows:

* every generator renders the test split's kinematics (as the test people: styles from their calibration EMG where
  the protocol has one; that set is for metrics only and never reaches GR/MR), and each synthetic window is compared
  with the real test window of the same rows: EECC, DTW, FFT-MSE, Welch-PSD log-distance, median / mean frequency
  error, kurtosis difference, channel-correlation distance, discriminative score;
* two reference points on the same real test windows (pipelines/threedc.py's code): "real vs real" (a real window of
  the same person and task / label from another recording or stretch, what a perfect generator would score) and
  "white surrogate" (noise with each window's mean and RMS: right amplitude, no spectrum, no time course);
* per test subject: window EECC, and with `rep_locked` (IMU curls) the repetition-locked envelope correlation.

Repetition-locked envelope (`rep_locked`): for each held-out repetition (one recording), the synthetic windows of
its kinematics (stride half a window) are stitched without overlap into one signal covering the repetition from its
start (all but < half a window at its end), the real EMG of the same rows is read, both are rectified and smoothed
(moving average of |x| over 50 ms, as EECC), resampled to 100 points of the repetition's phase, and correlated
(Pearson r, mean over channels). Reference points: the real envelope of another repetition of the same person and
label from another set (real vs real), and a white surrogate of the repetition (about 0 by construction).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ninapro_db1 as db1  # noqa: E402
import threedc  # noqa: E402

ORACLE = db1.ORACLE
AUGMENT = db1.AUGMENT
MODELS = ("flow", "seqemg_gan", "seqemg_gan_paper", "wavenet", "ridge", "ridge_user")
# held-out similarity columns (TRTS needs the generator's own training set and is left to `emgaug benchmark`)
SIM_METRICS = ("eecc", "dtw", "psd_log_distance_db", "median_freq_error_hz", "mean_freq_error_hz",
               "kurtosis_difference", "channel_corr_distance", "fft_mse", "discriminative_score")
REAL_VS_REAL, WHITE = "reference: real vs real", "reference: white surrogate"
REP_POINTS = 100  # phase points of a repetition-locked envelope
ENVELOPE_S = 0.05  # the EECC envelope's boxcar (emgaug.metrics.paired.ENVELOPE_S)


@dataclass
class Protocol:
    """One split protocol of a dataset: make_split options, and where real-vs-real partners come from."""

    name: str
    split: dict[str, Any]  # make_split keyword arguments (seed, test_frac, calibration_s, block_s, gap_s, ...)
    partner_split: str  # split whose windows are the real-vs-real partners of the test windows
    partner_exclude: str | None = None  # meta column that must differ between a test window and its partner
    partner_note: str = ""


@dataclass
class DatasetChain:
    """What a raw-EMG pipeline needs to know about its dataset."""

    kind: str
    title: str
    protocols: dict[str, Protocol]
    source_options: dict[str, Any] = field(default_factory=dict)
    angle_rate_hz: float = 50.0
    rep_locked: bool = False  # recordings are repetitions: report repetition-locked envelopes per subject


def whole_frame_window_s(window_s: float, sample_rate: float, angle_rate_hz: float) -> float:
    """The window length, at least `window_s`, that holds a whole number of kinematics frames at `sample_rate`
    (WindowConfig cuts windows down to whole frames: 1 s at 2148.15 Hz with 43-sample frames would be 2107 samples;
    this gives 2150, 1.0009 s). Exactly `window_s` where it already fits (1 s at 1 kHz with 20-sample frames)."""
    ds = max(1, int(round(sample_rate / angle_rate_hz)))
    n = int(math.ceil(round(window_s * sample_rate, 6) / ds)) * ds
    return n / sample_rate


def run_chain(cfg: DatasetChain, data: Path, out: Path, models: list[str], protocols: list[str], *, epochs: int,
              seeds: int, classifiers: list[str], window_s: float, train_stride_s: float,
              max_train_windows: int | None, max_test_windows: int | None, max_pairs: int, profile: str = "fast",
              features: str = "td", augment: list[str] | None = None, oracle: bool = True, threads: int | None = None,
              log: Callable[..., Any] = print) -> dict[str, Any]:
    """Run (or resume) the chain for every protocol in `protocols` and return the summary (also out/summary.json,
    out/summary.md). Finished steps are skipped when their outputs exist."""
    from emgaug.data.source import kinematics_label, open_source
    from emgaug.data.splits import make_split
    from emgaug.data.windows import WindowConfig
    from emgaug.synthesis.generate import synthesize_set
    from emgaug.training.checkpoint import load_generator
    from emgaug.training.trainer import train_model

    out.mkdir(parents=True, exist_ok=True)
    source = open_source(data, cfg.kind, **cfg.source_options)
    fs = float(source.sample_rate)
    win_s = whole_frame_window_s(window_s, fs, cfg.angle_rate_hz)
    window_cfg = WindowConfig(window_s=win_s, stride_s=train_stride_s, angle_rate_hz=cfg.angle_rate_hz)
    resolved = window_cfg.resolve(fs)
    heldout_stride_s = resolved.window / 2 / fs
    summary: dict[str, Any] = {
        "dataset": cfg.title, "data": str(data), "machine": db1.machine(),
        "kinematics": {"kind": source.kinematics_kind, "label": kinematics_label(source.kinematics_kind,
                                                                                 source.kinematics_label),
                       "names": list(source.kinematics_names), "frame_rate_hz": fs / resolved.angle_downsample},
        "emg": {"channels": list(source.channel_names), "sample_rate_hz": fs},
        "settings": {"models": models, "protocols": protocols, "epochs": epochs, "profile": profile, "seeds": seeds,
                     "classifiers": classifiers, "window_s": win_s, "window_samples": resolved.window,
                     "angle_rate_hz": cfg.angle_rate_hz, "train_stride_s": train_stride_s,
                     "heldout_stride_s": heldout_stride_s, "max_train_windows": max_train_windows,
                     "max_test_windows": max_test_windows, "max_pairs": max_pairs, "features": features,
                     "augment": list(augment or []), "oracle": oracle, "threads": threads,
                     "source_options": cfg.source_options,
                     "split": {p: cfg.protocols[p].split for p in protocols}},
        "timings_s": {}, "runs": {}, "heldout": {}, "references": {}, "rep_locked": {}}
    timings = summary["timings_s"]
    for protocol in protocols:
        proto = cfg.protocols[protocol]
        mpath = out / "manifests" / f"{protocol}.json"
        t = time.perf_counter()
        m = make_split(source, protocol, **proto.split)
        if not mpath.is_file() or json.loads(mpath.read_text())["splits"] != m.splits:
            m.save(mpath)  # rewritten only when the split changed, so finished steps stay resumable
        timings[f"{protocol}/split"] = round(time.perf_counter() - t, 2)
        calib = bool(proto.split.get("calibration_s"))
        heldout = HeldOut(mpath, resolved, heldout_stride_s, max_pairs, out / "heldout" / protocol)
        t = time.perf_counter()
        summary["references"][protocol] = heldout.references(proto, cfg.rep_locked, log)
        timings[f"{protocol}/references"] = round(time.perf_counter() - t, 2)
        specs = ([ORACLE] if oracle else []) + list(models)
        for spec in specs:
            key = f"{protocol}/{spec}"
            name = db1._dirname(spec)
            ck_dir, synth_dir, bench_dir = (out / part / protocol / name for part in ("models", "synthetic", "benchmark"))
            ckpt, history = None, None
            if spec == ORACLE:
                if not db1._is_set(synth_dir):
                    log(f"[{key}] write the real training EMG as a synthetic set")
                    synthesize_set(None, synth_dir, manifest=mpath, oracle_real=True, window_s=win_s, overwrite=True)
            else:
                model, overrides = db1.parse_model_spec(spec)
                t = time.perf_counter()
                log(f"[{key}] train")
                ckpt = train_model(mpath, model, ck_dir, epochs=epochs, profile=profile, seed=0, resume=True,
                                   quiet=True, max_train_windows=max_train_windows, model_overrides=overrides,
                                   window_cfg=window_cfg)
                timings[f"{key}/train"] = round(time.perf_counter() - t, 2)
                person = load_generator(ckpt).model.person_conditioned
                t = time.perf_counter()
                if not db1._is_set(synth_dir):
                    log(f"[{key}] synthesize")
                    synthesize_set(ckpt, synth_dir, seed=0, device="auto", overwrite=True,
                                   reference="calibration" if (calib and person) else None)
                timings[f"{key}/synthesize"] = round(time.perf_counter() - t, 2)
                history = ck_dir / "history.json"
            t = time.perf_counter()
            db1._benchmark(bench_dir, mpath, synth_dir, classifiers, seeds, max_train_windows, max_test_windows,
                           metrics=False, conditions=("RR", "GR", "MR"), log=lambda key=key: log(f"[{key}] benchmark"),
                           features=features, augment=augment if spec == specs[0] else None)
            timings[f"{key}/benchmark"] = round(time.perf_counter() - t, 2)
            summary["runs"][key] = db1.condense(json.loads((bench_dir / "results.json").read_text()), history)
            if ckpt is not None:
                t = time.perf_counter()
                set_dir = out / "synthetic_heldout" / protocol / name
                if not db1._is_set(set_dir):
                    log(f"[{key}] synthesize the test kinematics (metrics only)")
                    synthesize_set(ckpt, set_dir, split="test", allow_test_conditioning=True, seed=0, device="auto",
                                   stride_s=heldout_stride_s, overwrite=True,
                                   reference="calibration" if (calib and person) else None)
                timings[f"{key}/synthesize_heldout"] = round(time.perf_counter() - t, 2)
                t = time.perf_counter()
                summary["heldout"][key] = heldout.generator(name, set_dir, cfg.rep_locked,
                                                            log=lambda key=key: log(f"[{key}] held-out metrics"))
                timings[f"{key}/heldout_metrics"] = round(time.perf_counter() - t, 2)
            (out / "summary.json").write_text(json.dumps(summary, indent=2))
            (out / "summary.md").write_text(markdown(summary))  # partial tables while the chain runs
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "summary.md").write_text(markdown(summary))
    return summary


class HeldOut:
    """The held-out test windows of one protocol, their reference points, and each generator's scores on them.
    Results are cached as JSON under `cache` (the chain is resumable)."""

    def __init__(self, mpath: Path, window, stride_s: float, max_pairs: int, cache: Path):
        import dataclasses

        from emgaug.benchmark.data import load_split_windows
        from emgaug.data.manifest import load_manifest

        self.manifest = load_manifest(mpath)
        self.fs = float(self.manifest.data_source.sample_rate)
        self.window = dataclasses.replace(window, stride=max(1, int(round(stride_s * self.fs))), jitter=0)
        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)
        self.test = load_split_windows(self.manifest, "test", self.window, max_pairs, seed=0)
        self.keys = {(str(f), int(s)): i for i, (f, s) in enumerate(zip(self.test.meta["filename"], self.test.meta["start"]))}

    def _cached(self, name: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        path = self.cache / f"{name}.json"
        if path.is_file():
            return json.loads(path.read_text())
        result = compute()
        path.write_text(json.dumps(result, indent=2))
        return result

    def _scores(self, real: np.ndarray, other: np.ndarray, users: np.ndarray) -> dict[str, Any]:
        from emgaug.metrics.similarity import similarity_report

        rep = similarity_report(real, other, self.fs, with_dtw=True, n_jobs=1, keep_per_pair=True)
        per_pair = rep.pop("per_pair")
        eecc = per_pair["eecc"]
        per_user = {str(u): {"mean": float(np.nanmean(eecc[users == u])), "n": int((users == u).sum())}
                    for u in sorted(set(users.tolist()))}
        return {"n_pairs": int(len(real)),
                "metrics": {k: {"mean": v["mean"], "sd": v.get("sd"), "median": v.get("median")}
                            for k, v in rep["metrics"].items()},
                "eecc_per_user": per_user, "seconds": rep.get("seconds")}

    def references(self, proto: Protocol, rep_locked: bool, log) -> dict[str, Any]:
        """Real vs real and white surrogate on the held-out windows (and repetitions)."""

        def compute() -> dict[str, Any]:
            from emgaug.benchmark.data import load_split_windows

            log(f"[{self.manifest.protocol}] reference points on the held-out windows")
            pool = (self.test if proto.partner_split == "test"
                    else load_split_windows(self.manifest, proto.partner_split, self.window, None, seed=0))
            real, partner, kept = threedc.real_pairs(pool, self.test, seed=0, exclude=proto.partner_exclude,
                                                     with_index=True)
            users = self.test.meta["user"].astype(str).to_numpy()
            out = {"partners": {"split": proto.partner_split, "exclude_same": proto.partner_exclude,
                                "note": proto.partner_note, "test_windows": len(self.test),
                                "with_partner": int(len(kept))},
                   REAL_VS_REAL: self._scores(real, partner, users[kept]),
                   WHITE: self._scores(self.test.emg, threedc.white_surrogate(self.test.emg), users)}
            if rep_locked:
                out["rep_locked"] = self._rep_references(proto)
            return out

        return self._cached("_references", compute)

    def generator(self, name: str, set_dir: Path, rep_locked: bool, log) -> dict[str, Any]:
        """A generator's held-out set (rendered from the test kinematics) against the real test windows."""

        def compute() -> dict[str, Any]:
            from emgaug.synthesis import read_synthetic

            log()
            s = read_synthetic(set_dir)
            rows = {(str(f), int(st)): i for i, (f, st) in enumerate(zip(s.labels["filename"], s.labels["start"]))}
            kept = [i for i, k in enumerate(self.keys) if k in rows]
            idx = np.array([rows[k] for k in self.keys if k in rows], dtype=np.int64)
            if len(kept) < len(self.keys):
                raise RuntimeError(f"{set_dir}: {len(self.keys) - len(kept)} held-out windows have no synthetic partner")
            users = self.test.meta["user"].astype(str).to_numpy()
            out = self._scores(self.test.emg, s.emg[idx], users)
            out["style_sources"] = (s.metadata.get("person") or {}).get("style_sources")
            if rep_locked:
                out["rep_locked"] = self._rep_generator(s)
            return out

        return self._cached(name, compute)

    # repetition-locked envelopes -------------------------------------------------------------------------------
    def _test_recordings(self) -> list:
        return self.manifest.recordings("test")

    def _read(self, rec, start: int, stop: int) -> np.ndarray:
        emg, _ = self.manifest.data_source.reader(rec).read(start, stop)
        return emg.T.astype(np.float64)  # (C, n)

    def _rep_generator(self, s) -> dict[str, Any]:
        """Repetition-locked envelope correlation of every held-out repetition, per subject."""
        W = s.emg.shape[2]
        by_file: dict[str, dict[int, int]] = {}
        for i, (f, st) in enumerate(zip(s.labels["filename"].astype(str), s.labels["start"].astype(int))):
            by_file.setdefault(f, {})[int(st)] = i
        rs, users = [], []
        for rec in self._test_recordings():
            starts = sorted(st for st in by_file.get(rec.filename, {}) if rec.start <= st and st + W <= rec.stop)
            if not starts:
                continue
            synth, cover = stitch([(st, s.emg[by_file[rec.filename][st]].astype(np.float64)) for st in starts], W)
            real = self._read(rec, starts[0], starts[0] + cover)
            rs.append(envelope_corr(rep_envelope(real, self.fs), rep_envelope(synth, self.fs)))
            users.append(rec.user)
        return per_subject(np.asarray(rs), np.asarray(users))

    def _rep_references(self, proto: Protocol) -> dict[str, Any]:
        """Real vs real (another repetition of the same person and label from another set) and white surrogate."""
        rng = np.random.default_rng(0)
        pool_recs = (self._test_recordings() if proto.partner_split == "test"
                     else self.manifest.recordings(proto.partner_split))
        env_of = {}

        def env(rec) -> np.ndarray:
            if rec.key not in env_of:
                env_of[rec.key] = rep_envelope(self._read(rec, rec.start, rec.stop), self.fs)
            return env_of[rec.key]

        rr, wr, users_rr, users_w = [], [], [], []
        for rec in self._test_recordings():
            if rec.num_rows < int(ENVELOPE_S * self.fs) + 2:
                continue
            real = self._read(rec, rec.start, rec.stop)
            e = rep_envelope(real, self.fs)
            noise = threedc.white_surrogate(real[None].astype(np.float32), seed=len(wr))[0].astype(np.float64)
            wr.append(envelope_corr(e, rep_envelope(noise, self.fs)))
            users_w.append(rec.user)
            cands = [p for p in pool_recs if p.user == rec.user and p.stage == rec.stage and p.session != rec.session
                     and p.num_rows >= int(ENVELOPE_S * self.fs) + 2]
            if cands:
                rr.append(envelope_corr(e, env(cands[int(rng.integers(len(cands)))])))
                users_rr.append(rec.user)
        return {REAL_VS_REAL: per_subject(np.asarray(rr), np.asarray(users_rr)),
                WHITE: per_subject(np.asarray(wr), np.asarray(users_w))}


def stitch(tiles: list[tuple[int, np.ndarray]], window: int) -> tuple[np.ndarray, int]:
    """Windows (start, (C, W)) of one recording, starts sorted on a grid finer than W, joined without overlap from
    the first start: the tile at each multiple of W, then the part of the last tile beyond them. Returns the (C, n)
    signal and n (samples covered from the first start)."""
    first = tiles[0][0]
    by_start = dict(tiles)
    parts, end = [], first
    while end in by_start:
        parts.append(by_start[end])
        end += window
    last_start, last = tiles[-1]
    if last_start + window > end:
        parts.append(last[:, end - last_start:])
        end = last_start + window
    return np.concatenate(parts, axis=1), end - first


def rep_envelope(x: np.ndarray, fs: float, points: int = REP_POINTS) -> np.ndarray:
    """(C, n) -> (C, points): moving average of |x| over ENVELOPE_S ('valid' part), resampled to `points` phases."""
    from emgaug.metrics.paired import envelope

    e = envelope(x[None], fs, ENVELOPE_S)[0]
    src = np.linspace(0.0, 1.0, e.shape[1])
    dst = np.linspace(0.0, 1.0, points)
    return np.stack([np.interp(dst, src, ch) for ch in e])


def envelope_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two (C, points) envelopes per channel, mean over channels with a defined r."""
    from emgaug.metrics.paired import pearson_last_axis

    r = pearson_last_axis(a, b)
    return float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")


def per_subject(r: np.ndarray, users: np.ndarray) -> dict[str, Any]:
    """Mean ± SD of per-repetition correlations per subject and pooled."""
    def stats(v: np.ndarray) -> dict[str, Any]:
        v = v[np.isfinite(v)]
        return {"mean": float(v.mean()) if len(v) else None, "sd": float(v.std(ddof=1)) if len(v) > 1 else None,
                "n": int(len(v))}

    return {"pooled": stats(r), "per_user": {str(u): stats(r[users == u]) for u in sorted(set(users.tolist()))}}


# ---- summary tables -------------------------------------------------------------------------------------------------
SIM_HEAD = {"eecc": "EECC ↑", "dtw": "DTW ↓", "psd_log_distance_db": "PSD dist (dB) ↓",
            "median_freq_error_hz": "MDF err (Hz) ↓", "mean_freq_error_hz": "MNF err (Hz) ↓",
            "kurtosis_difference": "kurtosis diff ↓", "channel_corr_distance": "ch-corr dist ↓",
            "fft_mse": "FFT-MSE ↓", "discriminative_score": "discrim. (0.5 ideal)"}


def _sim_cells(res: dict[str, Any] | None) -> list[str]:
    if not res:
        return ["-"] * len(SIM_METRICS)
    return [db1._fmt(res["metrics"][m]["mean"], res["metrics"][m].get("sd")) if m in res["metrics"] else "-"
            for m in SIM_METRICS]


def _r(v: dict[str, Any] | None) -> str:
    if not v or v.get("mean") is None:
        return "-"
    return f"{v['mean']:.3f}" + (f" ± {v['sd']:.2f}" if v.get("sd") is not None else "") + f" (n={v['n']})"


def _delta_short(c: dict[str, Any] | None) -> str:
    """MR - RR in points with the Wilcoxon p (the SD is in the full tables)."""
    if not c or c.get("mean_difference") is None:
        return "-"
    p = c.get("p_value")
    return f"{100 * c['mean_difference']:+.1f}" + (f" (p={p:.2g})" if p is not None else "")


def overview(summary: dict[str, Any]) -> str:
    """One table for the dataset: per protocol, the reference points, the ceiling, the floors and every generator,
    with GR and MR - RR (Wilcoxon p) of each shallow classifier and the held-out EECC, PSD log-distance and median
    frequency error (and the repetition-locked envelope r where there is one)."""
    s = summary["settings"]
    shallow = [c for c in s["classifiers"] if c not in db1.DEEP]
    rep = any(v.get("rep_locked") for v in summary["heldout"].values())
    sim = ("eecc", "psd_log_distance_db", "median_freq_error_hz")
    head = (["protocol", "row", "role"] + [f"{c} GR" for c in shallow] + [f"{c} MR - RR (p)" for c in shallow]
            + [SIM_HEAD[m] for m in sim] + (["rep-locked r ↑"] if rep else []))
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for protocol in s["protocols"]:
        runs = {k.split("/", 1)[1]: v for k, v in summary["runs"].items() if k.startswith(protocol + "/")}
        refs = summary["references"].get(protocol, {})
        held = {k.split("/", 1)[1]: v for k, v in summary["heldout"].items() if k.startswith(protocol + "/")}
        rr = next(iter(runs.values()))["accuracy"] if runs else {}
        rows: list[tuple[str, str, dict | None, dict | None, dict | None]] = [
            ("RR (real only)", "reference", {"accuracy": {f"{c}/GR": rr.get(f"{c}/RR", (None, None)) for c in shallow}},
             None, None),
            (REAL_VS_REAL, "reference", None, refs.get(REAL_VS_REAL), (refs.get("rep_locked") or {}).get(REAL_VS_REAL)),
            (WHITE, "reference", None, refs.get(WHITE), (refs.get("rep_locked") or {}).get(WHITE))]
        for name, r in runs.items():
            h = held.get(name)
            rows.append((name, db1.ROLE.get(name, "generator"), r, h, (h or {}).get("rep_locked")))
        for name, role, r, h, rl in rows:
            acc = [db1._fmt(*(r or {}).get("accuracy", {}).get(f"{c}/GR", (None, None)), pct=True) for c in shallow]
            acc = [a.replace(" (SD undefined)", "") for a in acc]
            dl = [_delta_short((r or {}).get("vs_rr", {}).get(f"{c}/MR")) for c in shallow]
            sm = [f"{h['metrics'][m]['mean']:.{d}f}" if h and m in h["metrics"] else "-" for m, d in zip(sim, (3, 2, 1))]
            rc = [f"{rl['pooled']['mean']:.3f}" if rl and rl["pooled"].get("mean") is not None else "-"] if rep else []
            lines.append(f"| {protocol} | {name} | {role} | " + " | ".join(acc + dl + sm + rc) + " |")
    return "\n".join(lines) + "\n"


def markdown(summary: dict[str, Any]) -> str:
    """Per protocol: accuracy (floors, ceiling, generators, augmentations: GR, MR, MR - RR with p), held-out
    similarity with the two reference points, per-subject EECC (and repetition-locked envelopes), per-user accuracy;
    then the step timings."""
    s = summary["settings"]
    kin = summary["kinematics"]["label"]
    lines = [f"{summary['dataset']}: EMG {', '.join(summary['emg']['channels'])} at {summary['emg']['sample_rate_hz']:g} Hz, "
             f"conditioned on {kin} ({', '.join(summary['kinematics']['names'])}) at "
             f"{summary['kinematics']['frame_rate_hz']:.4g} Hz frames. Data `{summary['data']}`; machine "
             f"{summary['machine']}", "",
             f"Budget for every generator: {s['epochs']} epochs x at most {s['max_train_windows']} training windows of "
             f"{s['window_s']:.4g} s ({s['window_samples']} samples), profile {s['profile']}.", "",
             f"Settings: {json.dumps(s)}", "",
             f"### Overview: accuracy (%) on the real test split (GR mean ± SD over {s['seeds']} seeds; MR - RR in "
             "points with the Wilcoxon p over test user x seed cells) and held-out similarity (mean over windows)", "",
             overview(summary)]
    shallow = [c for c in s["classifiers"] if c not in db1.DEEP]
    for protocol in s["protocols"]:
        runs = {k.split("/", 1)[1]: v for k, v in summary["runs"].items() if k.startswith(protocol + "/")}
        if not runs:
            continue
        rows = db1._rows(runs, shallow)
        lines += db1._accuracy_table(protocol, rows, shallow, s["seeds"])
        first = next(iter(runs.values()))
        lines += ["", "RR (real only, the same for every row): " + ", ".join(
            f"{c} {db1._fmt(*first['accuracy'].get(f'{c}/RR', (None, None)), pct=True)}" for c in shallow)
            + f"; counts {json.dumps(first.get('counts'))}", ""]
        refs = summary["references"].get(protocol, {})
        held = {k.split("/", 1)[1]: v for k, v in summary["heldout"].items() if k.startswith(protocol + "/")}
        part = refs.get("partners", {})
        lines += [f"### {protocol}: held-out similarity: synthetic EMG from the test split's {kin} vs the real test "
                  f"windows of the same rows (mean ± SD over {refs.get(WHITE, {}).get('n_pairs', '?')} windows)", "",
                  "| row | " + " | ".join(SIM_HEAD[m] for m in SIM_METRICS) + " |", "|---" * (len(SIM_METRICS) + 1) + "|"]
        for name in (REAL_VS_REAL, WHITE):
            lines.append(f"| {name} | " + " | ".join(_sim_cells(refs.get(name))) + " |")
        for name, res in held.items():
            lines.append(f"| {name} | " + " | ".join(_sim_cells(res)) + " |")
        lines += ["", f"Real vs real: each test window against a real window of the same person and label from the "
                      f"{part.get('split')} split{' with another ' + part['exclude_same'] if part.get('exclude_same') else ''}"
                      f" ({part.get('note', '')}; {part.get('with_partner')} of {part.get('test_windows')} test windows "
                      "have one). White surrogate: Gaussian noise with each window-channel's mean and RMS.", ""]
        users = sorted({u for res in [*held.values(), *(refs.get(n) for n in (REAL_VS_REAL, WHITE))] if res
                        for u in res.get("eecc_per_user", {})})
        if users:
            lines += [f"### {protocol}: window EECC per test subject (held-out windows)", "",
                      "| row | " + " | ".join(users) + " |", "|---" * (len(users) + 1) + "|"]
            for name, res in [(REAL_VS_REAL, refs.get(REAL_VS_REAL)), (WHITE, refs.get(WHITE)), *held.items()]:
                pu = (res or {}).get("eecc_per_user", {})
                lines.append(f"| {name} | " + " | ".join(f"{pu[u]['mean']:.3f}" if u in pu else "-" for u in users) + " |")
            lines.append("")
        if refs.get("rep_locked") or any(r.get("rep_locked") for r in held.values()):
            rl = {REAL_VS_REAL: refs.get("rep_locked", {}).get(REAL_VS_REAL), WHITE: refs.get("rep_locked", {}).get(WHITE),
                  **{n: r.get("rep_locked") for n, r in held.items()}}
            users = sorted({u for v in rl.values() if v for u in v["per_user"]})
            lines += [f"### {protocol}: repetition-locked envelope correlation per test subject (Pearson r of the 50 ms "
                      f"envelopes over {REP_POINTS} phase points of each held-out repetition; mean ± SD over "
                      "repetitions, n)", "", "| row | pooled | " + " | ".join(users) + " |",
                      "|---" * (len(users) + 2) + "|"]
            for name, v in rl.items():
                v = v or {"pooled": None, "per_user": {}}
                lines.append(f"| {name} | {_r(v['pooled'])} | " + " | ".join(_r(v["per_user"].get(u)) for u in users) + " |")
            lines.append("")
        if shallow:
            c = shallow[-1]
            pu_users = list(first["per_user"].get(f"{c}/RR", {}))
            if pu_users:
                lines += [f"### {protocol}: {c} accuracy (%) per test user (mean over seeds): RR, then each row's GR / MR",
                          "", "| row | " + " | ".join(pu_users) + " |", "|---" * (len(pu_users) + 1) + "|",
                          "| RR | " + " | ".join(f"{100 * first['per_user'][f'{c}/RR'][u]:.1f}" for u in pu_users) + " |"]
                for name, r, suf in rows:
                    gr, mr = r["per_user"].get(f"{c}/GR{suf}", {}), r["per_user"].get(f"{c}/MR{suf}", {})
                    lines.append(f"| {name} | " + " | ".join(
                        f"{100 * gr[u]:.1f} / {100 * mr[u]:.1f}" if u in gr and u in mr else "-" for u in pu_users) + " |")
                lines.append("")
        lines.append("")
    lines += ["### Step timings (s)", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary["timings_s"].items()]
    return "\n".join(lines) + "\n"


def add_arguments(ap, data: str, out: str, protocols: tuple[str, ...]) -> None:
    """The command-line options both raw-EMG pipelines share."""
    ap.add_argument("--data", type=Path, default=Path(data))
    ap.add_argument("--out", type=Path, default=Path(out))
    ap.add_argument("--models", default=",".join(MODELS), help="Comma list of model names, each optionally with "
                    "options: seqemg_gan@feature_loss_weight=1.0")
    ap.add_argument("--protocols", default=",".join(protocols))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--profile", default="fast")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--classifiers", default="svm,rf")
    ap.add_argument("--window-s", type=float, default=1.0, help="Window length (rounded up to whole kinematics frames).")
    ap.add_argument("--train-stride-s", type=float, default=0.25)
    ap.add_argument("--max-train-windows", type=int, default=1500, help="The training-window budget of every "
                    "generator, and the cap on each real training split of the classifier benchmark.")
    ap.add_argument("--max-test-windows", type=int, default=None)
    ap.add_argument("--max-pairs", type=int, default=600, help="Held-out windows scored by the similarity metrics.")
    ap.add_argument("--features", default="td", help="SVM/RF input: td (time-domain features of raw EMG), amplitude "
                    "or raw.")
    ap.add_argument("--augment", default=",".join(AUGMENT), help="Classic augmentations benchmarked as rows "
                    "('none' for none).")
    ap.add_argument("--no-oracle", action="store_true", help="Skip the oracle (real EMG) ceiling row.")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads.")
    ap.add_argument("--tables-only", action="store_true", help="Only rewrite summary.md from --out's summary.json.")


def main_with(cfg: DatasetChain, a) -> dict[str, Any]:
    """Run the chain with parsed arguments (see `add_arguments`) and print the summary."""
    if a.tables_only:
        summary = json.loads((a.out / "summary.json").read_text())
        (a.out / "summary.md").write_text(markdown(summary))
        print((a.out / "summary.md").read_text())
        return summary
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    summary = run_chain(cfg, a.data, a.out, [m for m in a.models.split(",") if m], a.protocols.split(","),
                        epochs=a.epochs, seeds=a.seeds, classifiers=a.classifiers.split(","), window_s=a.window_s,
                        train_stride_s=a.train_stride_s, max_train_windows=a.max_train_windows,
                        max_test_windows=a.max_test_windows, max_pairs=a.max_pairs, profile=a.profile,
                        features=a.features, augment=[] if a.augment in ("", "none") else a.augment.split(","),
                        oracle=not a.no_oracle, threads=a.threads)
    print((a.out / "summary.md").read_text())
    print(f"total {time.perf_counter() - t0:.0f} s; {len(summary['runs'])} model runs")
    return summary
