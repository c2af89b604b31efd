"""Per-recording reference clips (issue 19): a few seconds of real EMG from the time of each kinematics-only
recording or session carry what the kinematics cannot, chiefly its amplitude level, which drifts over a session.

For every clip group (a recording, else a user's session, else a user) synthesis takes two things from the clip:
- the person's style (person-conditioned generators only): a training user's learned style, which many windows
  estimated better than a few seconds can; for a person the generator never saw, the reference encoder's style of
  the clip (ridge_user: weights fitted on it);
- a gain per channel: the generator renders the clip's own kinematics in that style, and the gain is
  exp(mean log RMS of the real clip - mean log RMS of that rendering) per channel, over the clip's valid samples.
Every synthetic window of the group is multiplied by its gain. For `ridge_user` this is exactly "the per-user
ridge plus the clip's mean log-offset per channel", the floor the learned generators must beat.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from emgaug.data.manifest import Manifest
from emgaug.data.recording import Recording
from emgaug.data.windows import WindowDataset
from emgaug.errors import EmgaugError

LOG_EPS = 1e-12


@dataclass
class ClipCalibration:
    """Style and gain per clip group, with the fallbacks `lookup` walks: recording key, (user, session), user."""

    styles: dict[tuple, torch.Tensor | None]
    gains: dict[tuple, np.ndarray]  # (C,) raw-unit gain per channel

    def lookup(self, rec: Recording) -> tuple[torch.Tensor | None, np.ndarray] | None:
        for key in (("key", rec.key), ("session", rec.user, rec.session), ("user", rec.user)):
            if key in self.gains:
                return self.styles[key], self.gains[key]
        return None


def _groups(recs: list[Recording]) -> dict[tuple, list[int]]:
    out: dict[tuple, list[int]] = {}
    for i, r in enumerate(recs):
        for key in (("key", r.key), ("session", r.user, r.session), ("user", r.user)):
            out.setdefault(key, []).append(i)
    return out


def calibrate_clips(loaded, manifest: Manifest, split: str, seed: int, dev: str) -> ClipCalibration:
    """Styles and gains of every clip group of `split` (e.g. "clip") for the generator `loaded`."""
    recs = manifest.recordings(split)
    if not recs:
        raise EmgaugError(f"{manifest.path}: the '{split}' split is empty; make clips with `emgaug split --clip-s`")
    win = dataclasses.replace(loaded.window, stride=loaded.window.window, jitter=0, pad=True)
    ds = WindowDataset(manifest.data_source, recs, win, norm=None, label_map=loaded.label_map)
    norm, model = loaded.norm, loaded.model
    reads = [ds.read_window(i) for i in range(len(ds))]
    raw_emg = np.stack([r[0] for r in reads])  # (N, C, T) raw units, zero on padding
    raw_ang = np.stack([r[1] for r in reads])
    amask = np.stack([r[2] for r in reads])
    emask = np.stack([r[3] for r in reads])
    a_mean, a_std = norm.angle_mean[:, None], norm.angle_std[:, None]
    n_ang = torch.from_numpy(np.where(amask[:, None, :], (raw_ang - a_mean) / a_std, 0.0).astype(np.float32))
    n_emg = torch.from_numpy(((raw_emg - norm.emg_mean[:, None]) / norm.emg_std[:, None]).astype(np.float32))
    user_map = loaded.user_map
    win_recs = ds.window_recordings()
    styles, gains = {}, {}
    for g, (key, rows) in enumerate(sorted(_groups(win_recs).items(), key=lambda kv: repr(kv[0]))):
        rows = np.asarray(rows)
        style = None
        if model.person_conditioned:
            user = win_recs[rows[0]].user
            full = rows[emask[rows].all(1) & amask[rows].all(1)]
            if user in user_map or not len(full):  # known person (or no whole window): the learned/null style
                style = model.style_for_users(torch.tensor([user_map.get(user, -1)]))[0].cpu()
            else:
                with torch.inference_mode():
                    style = model.style_from_reference(n_emg[full].to(dev), n_ang[full].to(dev),
                                                       torch.from_numpy(amask[full]).to(dev))[0].cpu()
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 19, g]).generate_state(1)[0]))
        st = None if style is None else style[None].expand(len(rows), -1).to(dev)
        labels = None
        if getattr(model, "conditions_on_labels", False):
            labels = torch.tensor([loaded.label_map.get(win_recs[i].stage, -1) for i in rows], device=dev)
        with torch.inference_mode():
            fake = model.generate(n_ang[rows].to(dev), labels=labels, generator=gen, style=st).float().cpu().numpy()
        fake = norm.denormalize_emg_ct(fake)
        m = emask[rows][:, None, :]  # valid samples only
        log_rms = lambda x, m=m: 0.5 * np.log((x.astype(np.float64) ** 2 * m).sum((0, 2)) / m.sum() + LOG_EPS)  # noqa: E731
        gains[key] = np.exp(log_rms(raw_emg[rows]) - log_rms(fake)).astype(np.float32)
        styles[key] = style
    return ClipCalibration(styles, gains)
