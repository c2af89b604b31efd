"""Built-in dataset: a small, seeded, physiologically plausible recording set in exact emg2pose format.

Kinematics: 20 hand joint angles (thumb CMC flex/abd, MCP, IP; MCP flex/abd, PIP, DIP for four fingers) follow
minimum-jerk micro-gesture trajectories with per-user and per-repetition variability. Muscles: eight forearm
muscle groups whose activation is driven by the joint kinematics (posture held against gravity/antagonists plus
movement velocity) through first-order activation dynamics (tau ~ 40 ms). EMG: each muscle emits amplitude-
modulated band-limited noise (20-450 Hz, sEMG-like spectrum); a 16-electrode wrist band mixes the muscles by
their angular distance to each electrode, with per-user band rotation and electrode gains, plus sensor noise.
A few files get inverse-kinematics failure gaps (angles written as zeros), as real emg2pose files do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from scipy import signal

from emgaug.atomic import atomic_path
from emgaug.data.emg2pose import ANGLES_FIELD, EMG_FIELD, GROUP, TIME_FIELD, TIMESERIES, timeseries_dtype
from emgaug.errors import EmgaugError

SAMPLE_RATE = 2000.0
NUM_CHANNELS = 16
JOINTS = (
    "thumb_cmc_flex", "thumb_cmc_abd", "thumb_mcp", "thumb_ip",
    *(f"{f}_{j}" for f in ("index", "middle", "ring", "pinky") for j in ("mcp_flex", "mcp_abd", "pip", "dip")),
)
J = {name: i for i, name in enumerate(JOINTS)}
DEFAULT_STAGES = ("slide_left", "slide_right", "slide_up", "slide_down", "click", "double_click", "pinch", "fist")

# Rest posture (rad): a relaxed, slightly flexed hand.
REST = np.zeros(len(JOINTS))
REST[[J["thumb_cmc_flex"], J["thumb_cmc_abd"], J["thumb_mcp"], J["thumb_ip"]]] = [0.2, 0.4, 0.2, 0.15]
for _f in ("index", "middle", "ring", "pinky"):
    REST[[J[f"{_f}_mcp_flex"], J[f"{_f}_pip"], J[f"{_f}_dip"]]] = [0.3, 0.4, 0.2]


def _min_jerk(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return 10 * u**3 - 15 * u**4 + 6 * u**5


def _plateau(u: np.ndarray, edge: float = 0.25) -> np.ndarray:
    return _min_jerk(u / edge) * _min_jerk((1.0 - u) / edge)


def _bump(u: np.ndarray, centre: float = 0.5, width: float = 0.5) -> np.ndarray:
    x = np.clip((u - centre) / width + 0.5, 0.0, 1.0)
    return np.sin(np.pi * x) ** 2


def _contact() -> np.ndarray:
    """Thumb pad resting on the index finger's side: the posture shared by slide gestures."""
    d = np.zeros(len(JOINTS))
    d[[J["thumb_mcp"], J["thumb_ip"], J["index_pip"], J["index_mcp_flex"]]] = [0.3, 0.2, 0.3, 0.15]
    return d


def _gesture(stage: str, u: np.ndarray) -> np.ndarray:
    """Displacement from rest (T, 20) of one repetition over normalised time u in [0, 1]."""
    D = np.zeros((len(u), len(JOINTS)))
    hold = _plateau(u)[:, None]
    if stage.startswith("slide_"):
        D += hold * _contact()
        sweep = _min_jerk((u - 0.25) / 0.5) - 0.5  # -0.5 -> +0.5 while in contact
        axis, sign = {"slide_left": ("thumb_cmc_abd", -1), "slide_right": ("thumb_cmc_abd", 1),
                      "slide_up": ("thumb_cmc_flex", 1), "slide_down": ("thumb_cmc_flex", -1)}[stage]
        D[:, J[axis]] += sign * 0.5 * sweep * hold[:, 0]
    elif stage in ("click", "double_click"):
        D += 0.5 * hold * _contact()
        taps = [_bump(u, 0.5, 0.35)] if stage == "click" else [_bump(u, 0.33, 0.25), _bump(u, 0.67, 0.25)]
        tap = np.sum(taps, axis=0)
        D[:, J["thumb_mcp"]] += 0.35 * tap
        D[:, J["thumb_ip"]] += 0.45 * tap
        D[:, J["thumb_cmc_flex"]] += 0.15 * tap
    elif stage == "pinch":
        D[:, [J["thumb_cmc_flex"], J["thumb_cmc_abd"], J["thumb_mcp"], J["thumb_ip"]]] += hold * [0.35, 0.3, 0.35, 0.3]
        D[:, [J["index_mcp_flex"], J["index_pip"], J["index_dip"]]] += hold * [0.5, 0.6, 0.4]
    elif stage == "fist":
        for f in ("index", "middle", "ring", "pinky"):
            D[:, [J[f"{f}_mcp_flex"], J[f"{f}_pip"], J[f"{f}_dip"]]] += hold * [1.1, 1.3, 0.8]
        D[:, [J["thumb_cmc_flex"], J["thumb_mcp"], J["thumb_ip"]]] += hold * [0.4, 0.5, 0.5]
    elif stage == "spread":
        for k, f in enumerate(("index", "middle", "ring", "pinky")):
            D[:, J[f"{f}_mcp_abd"]] += hold[:, 0] * (0.25 * (k - 1.5))
            D[:, [J[f"{f}_mcp_flex"], J[f"{f}_pip"]]] -= hold * [0.3, 0.35]
        D[:, J["thumb_cmc_abd"]] += 0.4 * hold[:, 0]
    else:
        raise ValueError(f"unknown simulated stage '{stage}'; choose from {', '.join(DEFAULT_STAGES + ('spread',))}")
    return D


# Muscle groups: (name, angular position on the wrist band in rad, spatial spread, joint loading vector builder).
def _loading(pairs: dict[str, float]) -> np.ndarray:
    w = np.zeros(len(JOINTS))
    for pattern, v in pairs.items():
        for name, i in J.items():
            if pattern in name:
                w[i] += v
    return w


MUSCLES = (
    ("flexor_digitorum_superficialis", 0.0, 2.5, _loading({"mcp_flex": 0.6, "pip": 1.0})),
    ("flexor_digitorum_profundus", 0.6, 2.5, _loading({"pip": 0.5, "dip": 1.0})),
    ("extensor_digitorum", np.pi, 2.5, _loading({"mcp_flex": -1.0, "pip": -0.6})),
    ("flexor_pollicis_longus", 1.1, 3.5, _loading({"thumb_ip": 1.0, "thumb_mcp": 0.5})),
    ("abductor_pollicis_longus", 2.2, 3.5, _loading({"thumb_cmc_abd": 1.0, "thumb_cmc_flex": -0.4})),
    ("extensor_pollicis", 2.7, 3.5, _loading({"thumb_cmc_flex": -1.0, "thumb_mcp": -0.5, "thumb_ip": -0.5})),
    ("thenar_opponens", 0.9, 2.0, _loading({"thumb_cmc_flex": 1.0, "thumb_cmc_abd": -0.6})),
    ("interossei", 4.2, 2.0, _loading({"mcp_abd": 1.0, "index_mcp_flex": 0.3})),
)


@dataclass(frozen=True)
class SimUser:
    """Per-user physiology: joint range scaling, rest offsets, movement speed, band rotation, electrode gains."""

    joint_scale: np.ndarray
    rest_offset: np.ndarray
    speed: float
    band_rotation: float
    electrode_gain: np.ndarray
    muscle_gain: np.ndarray


def _make_user(rng: np.random.Generator) -> SimUser:
    return SimUser(
        joint_scale=rng.normal(1.0, 0.1, len(JOINTS)).clip(0.7, 1.3),
        rest_offset=rng.normal(0.0, 0.05, len(JOINTS)),
        speed=float(rng.normal(1.0, 0.1)),
        band_rotation=float(rng.uniform(-0.4, 0.4)),
        electrode_gain=rng.lognormal(0.0, 0.15, NUM_CHANNELS),
        muscle_gain=rng.lognormal(0.0, 0.2, len(MUSCLES)),
    )


def _smooth_noise(rng: np.random.Generator, n: int, dims: int, cutoff_hz: float, fs: float) -> np.ndarray:
    sos = signal.butter(2, cutoff_hz, btype="low", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, rng.standard_normal((n, dims)), axis=0)


def simulate_angles(stage: str, user: SimUser, reps: int, rng: np.random.Generator, fs: float = SAMPLE_RATE,
                    lead_s: float = 0.3) -> np.ndarray:
    """Joint angles (n, 20) for `reps` repetitions of `stage` separated by rest."""
    pieces = [np.zeros((int(lead_s * fs), len(JOINTS)))]
    for _ in range(reps):
        dur = float(np.clip(rng.normal(0.7, 0.08) / user.speed, 0.45, 1.0))
        n = int(dur * fs)
        amp = float(np.clip(rng.normal(1.0, 0.12), 0.7, 1.3))
        pieces.append(amp * _gesture(stage, np.linspace(0.0, 1.0, n)))
        pieces.append(np.zeros((int(rng.uniform(0.25, 0.4) * fs), len(JOINTS))))
    disp = np.concatenate(pieces) * user.joint_scale
    tremor = 0.01 * _smooth_noise(rng, len(disp), len(JOINTS), 8.0, fs)
    return REST + user.rest_offset + disp + tremor


def muscle_activations(angles: np.ndarray, fs: float = SAMPLE_RATE, tau_s: float = 0.04) -> np.ndarray:
    """Activation (n, M) in [0, 1]: posture load plus velocity drive, through first-order activation dynamics."""
    W = np.stack([m[3] for m in MUSCLES])  # (M, J)
    disp = angles - REST
    vel = np.gradient(angles, axis=0) * fs
    drive = 0.04 + 0.5 * np.maximum(disp @ W.T, 0) + 0.12 * np.maximum(vel @ W.T, 0)
    drive += 0.15 * np.abs(disp @ W.T)  # co-contraction of antagonists stabilises any held posture
    alpha = 1.0 / (tau_s * fs)
    act = signal.lfilter([alpha], [1.0, alpha - 1.0], drive, axis=0, zi=np.tile(drive[:1] * (1 - alpha), (1, 1)))[0]
    return np.clip(act, 0.0, 1.0)


def emg_from_activations(act: np.ndarray, user: SimUser, rng: np.random.Generator, fs: float = SAMPLE_RATE,
                         session_gain: np.ndarray | None = None) -> np.ndarray:
    """16-channel EMG (n, 16): amplitude-modulated 20-450 Hz noise per muscle, mixed by electrode geometry."""
    n, M = act.shape
    # 20-450 Hz band, tilted by a 1st-order low-pass at 120 Hz so power peaks near 60-100 Hz as in forearm sEMG
    sos = np.vstack([signal.butter(2, [20.0, 450.0], btype="bandpass", fs=fs, output="sos"),
                     signal.butter(1, 120.0, btype="low", fs=fs, output="sos")])
    carrier = signal.sosfilt(sos, rng.standard_normal((n + 400, M)), axis=0)[400:]
    carrier /= carrier.std(axis=0, keepdims=True)
    sources = carrier * act * user.muscle_gain  # (n, M)
    phi = 2 * np.pi * np.arange(NUM_CHANNELS) / NUM_CHANNELS + user.band_rotation
    psi = np.array([m[1] for m in MUSCLES])
    kappa = np.array([m[2] for m in MUSCLES])
    mix = np.exp(kappa[None, :] * (np.cos(phi[:, None] - psi[None, :]) - 1.0))  # (C, M)
    gains = user.electrode_gain * (session_gain if session_gain is not None else 1.0)
    emg = 250.0 * (sources @ mix.T) * gains  # ~uV scale: a strong contraction gives a few hundred uV RMS
    emg += rng.normal(0.0, 4.0, emg.shape)  # amplifier/sensor noise floor
    return emg.astype(np.float32)


def _quantize(x: np.ndarray, step: float) -> np.ndarray:
    """Round to a sensor resolution: realistic, and it lets HDF5 compression work."""
    return np.round(x / step) * step


def write_emg2pose_file(path: Path, times: np.ndarray, angles: np.ndarray, emg: np.ndarray, attrs: dict) -> None:
    """Write one file in exact emg2pose layout (atomically)."""
    rows = np.empty(len(times), dtype=timeseries_dtype(angles.shape[1], emg.shape[1]))
    rows[TIME_FIELD], rows[ANGLES_FIELD], rows[EMG_FIELD] = times, angles, emg
    # checksummed: HDF5's "latest" format checksums every metadata block and fletcher32 every data chunk, so a
    # flipped byte anywhere in a built-in file is a read error, never a silently different value
    with atomic_path(path, clean=False) as tmp:
        with h5py.File(tmp, "w", libver="latest") as f:
            g = f.create_group(GROUP)
            g.create_dataset(TIMESERIES, data=rows, compression="gzip", compression_opts=4, shuffle=True,
                             fletcher32=True, chunks=(min(len(rows), 4096),))
            for k, v in attrs.items():
                g.attrs[k] = v


MARKER = ".emgaug-simulated.json"  # written last into every built-in dataset: what emgaug may later replace
MARKER_FORMAT = "emgaug-simulated-dataset"
KNOWN_STAGES = (*DEFAULT_STAGES, "spread")


def simulation_params(seed: int, users: int, sessions: int, reps: int, stages: Sequence[str], ik_failure_rate: float,
                      held_out_users: int, held_out_stages: int) -> dict[str, Any]:
    return {"seed": int(seed), "users": int(users), "sessions": int(sessions), "reps": int(reps), "stages": list(stages),
            "ik_failure_rate": float(ik_failure_rate), "held_out_users": int(held_out_users),
            "held_out_stages": int(held_out_stages)}


def recognise_simulated(folder: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """Is `folder` a dataset `emgaug simulate` wrote? Returns (its marker, or {} for one written before markers
    existed; None when it is not one) and the names of entries in it that emgaug did not write."""
    names = sorted(p.name for p in folder.iterdir())
    marker_path = folder / MARKER
    if marker_path.is_file() and not marker_path.is_symlink():
        try:
            marker = json.loads(marker_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            marker = None
        if isinstance(marker, dict) and marker.get("format") == MARKER_FORMAT and isinstance(marker.get("files"), dict):
            ours = {MARKER, "metadata.csv", *map(str, marker["files"])}
            return marker, [n for n in names if n not in ours]
    # older built-in datasets: metadata.csv of simulated users (sim000, ...) and the HDF5 files it lists
    try:
        meta = pd.read_csv(folder / "metadata.csv", dtype=str, keep_default_na=False)
        listed = {f"{f}.hdf5" for f in meta["filename"]}
        simulated = len(meta) > 0 and meta["user"].map(lambda u: re.fullmatch(r"sim\d{3}", u) is not None).all()
    except (OSError, KeyError, ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None, names
    if not simulated or not any(n in listed for n in names):
        return None, names
    return {}, [n for n in names if n not in listed | {"metadata.csv"}]


def _prepare_out(out: Path, params: dict[str, Any], overwrite: bool) -> bool:
    """Check `out` before writing; True when it already holds this exact dataset (nothing to do).

    emgaug only ever replaces a dataset it wrote itself, and only with `overwrite` (or when the settings are the
    same, so the result would be identical); a folder holding anything else is refused, never deleted."""
    if not (out.exists() or out.is_symlink()):
        return False
    if not out.is_dir():
        raise EmgaugError(f"{out}: exists and is not a folder; choose another --out (emgaug never replaces a file it did "
                          "not write)")
    try:
        empty = not any(out.iterdir())
    except OSError as e:
        raise EmgaugError(f"{out}: cannot list the folder ({e.strerror or e}); check its permissions") from e
    if empty:
        return False
    marker, foreign = recognise_simulated(out)
    if marker is None:
        example = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise EmgaugError(f"{out}: folder is not empty and is not a dataset written by `emgaug simulate` ({example}); "
                          "emgaug never deletes what it did not write: choose another --out or empty the folder yourself")
    if foreign:
        example = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise EmgaugError(f"{out}: holds a simulated dataset plus files emgaug did not write ({example}); move them out "
                          "or choose another --out (even --overwrite never deletes them)")
    if marker and marker.get("params") == params and _files_intact(out, marker):
        return True
    if not overwrite:
        what = "other settings" if marker else "an older emgaug (settings unknown)"
        raise EmgaugError(f"{out}: holds a dataset written by `emgaug simulate` with {what}; pass --overwrite to "
                          "replace it (the new one replaces it only once complete) or choose another --out")
    return False


def _files_intact(out: Path, marker: dict[str, Any]) -> bool:
    try:
        return all((out / name).stat().st_size == int(size) for name, size in marker["files"].items())
    except (OSError, TypeError, ValueError):
        return False


def simulate_dataset(out_dir: str | Path, seed: int = 0, users: int = 4, sessions: int = 2, reps: int = 3,
                     stages: Sequence[str] = DEFAULT_STAGES, ik_failure_rate: float = 0.15,
                     held_out_users: int = 1, held_out_stages: int = 2,
                     progress: Callable[[int, int], None] | None = None, overwrite: bool = False) -> Path:
    """Write the built-in dataset (HDF5 files + metadata.csv) to `out_dir`; returns the folder.

    Users alternate right/left hand; each (user, session, stage) is one file of `reps` repetitions.
    held_out_user / held_out_stage / split / generalization columns follow emg2pose's conventions.
    An existing `out_dir` is kept when it already holds the same dataset, replaced only when it is one emgaug wrote
    and `overwrite` is set, and refused otherwise (see `_prepare_out`).
    """
    out = Path(out_dir)
    stages = list(stages)
    if users < 1 or sessions < 1 or reps < 1 or not stages:
        raise EmgaugError("--users, --sessions and --reps must be >= 1 and --stages must name at least one stage")
    unknown = [s for s in stages if s not in KNOWN_STAGES]
    if unknown:
        raise EmgaugError(f"unknown simulated stage(s) {', '.join(map(repr, unknown))}; choose from {', '.join(KNOWN_STAGES)}")
    if len(set(stages)) != len(stages):
        raise EmgaugError(f"--stages lists a stage twice ({', '.join(stages)}); name each once")
    if seed < 0:
        raise EmgaugError(f"--seed must be >= 0 (got {seed})")
    if held_out_users < 0 or held_out_stages < 0 or not (0.0 <= ik_failure_rate <= 1.0):
        raise EmgaugError("--held-out-users and --held-out-stages must be >= 0 (and the IK-failure rate in [0, 1])")
    params = simulation_params(seed, users, sessions, reps, stages, ik_failure_rate, held_out_users, held_out_stages)
    if _prepare_out(out, params, overwrite):
        return out
    rng_master = np.random.default_rng(seed)
    user_ids = [f"sim{u:03d}" for u in range(users)]
    held_users = set(user_ids[users - held_out_users:]) if 0 < held_out_users < users else set()
    stage_order = list(stages)
    held_stages = set(rng_master.permutation(stage_order)[:held_out_stages]) if 0 < held_out_stages < len(stages) else set()
    total = users * sessions * len(stages)
    with atomic_path(out, is_dir=True) as tmp:
        rows = []
        done = 0
        for ui, uid in enumerate(user_ids):
            user = _make_user(np.random.default_rng((seed, ui)))
            side = "right" if ui % 2 == 0 else "left"
            for si in range(sessions):
                session = f"{uid}_s{si}"
                srng = np.random.default_rng((seed, ui, si))
                session_gain = srng.lognormal(0.0, 0.08, NUM_CHANNELS)
                t0 = 1.65e9 + ui * 86400.0 + si * 3600.0
                for gi, stage in enumerate(stage_order):
                    rng = np.random.default_rng((seed, ui, si, gi))
                    ang = simulate_angles(stage, user, reps, rng)
                    act = muscle_activations(ang)
                    emg = emg_from_activations(act, user, rng, session_gain=session_gain)
                    ang = _quantize(ang, 2.0**-13)  # ~0.1 mrad, a binary fraction so it compresses
                    if rng.random() < ik_failure_rate:  # an IK-failure gap: emg2pose writes zeros
                        g_len = int(rng.uniform(0.05, 0.3) * SAMPLE_RATE)
                        g0 = int(rng.integers(0, max(1, len(ang) - g_len)))
                        ang[g0:g0 + g_len] = 0.0
                    emg = _quantize(emg, 0.25).astype(np.float32)
                    times = t0 + gi * 60.0 + np.arange(len(ang)) / SAMPLE_RATE
                    fname = f"{session}_{stage}_{side}"
                    attrs = {"filename": fname, "session": session, "stage": stage, "user": uid, "side": side,
                             "sample_rate": SAMPLE_RATE, "num_channels": NUM_CHANNELS,
                             "start": float(times[0]), "end": float(times[-1])}
                    write_emg2pose_file(tmp / f"{fname}.hdf5", times, ang, emg, attrs)
                    hu, hs = uid in held_users, stage in held_stages
                    gen = "user_stage" if hu and hs else "user" if hu else "stage" if hs else ""
                    rows.append({"user": uid, "session": session, "stage": stage, "side": side, "moving_hand": side,
                                 "held_out_user": hu, "held_out_stage": hs, "split": "test" if gen else "train",
                                 "generalization": gen, "filename": fname})
                    done += 1
                    if progress:
                        progress(done, total)
        pd.DataFrame(rows).to_csv(tmp / "metadata.csv", index=False)
        files = {p.name: p.stat().st_size for p in sorted(tmp.glob("*.hdf5"))}
        (tmp / MARKER).write_text(json.dumps({"format": MARKER_FORMAT, "version": 1, "params": params,
                                              "files": files}, indent=1) + "\n")
    return out
