"""The augmentation and learning-rate study: one model, several augmentation strengths and
learning-rate schedules, training curves side by side (``lia-dask cnn study``).

:func:`run_study` trains the same :class:`~lia_dask.cnn.train.CNNConfig` once per combination of
a named augmentation (default ``none``, ``mild``, ``strong``) and a named schedule (default
``constant``, ``step`` = halve every k epochs, ``cosine`` = one warm-up epoch then cosine decay),
as a full grid or as an Optuna (TPE) search over augmentation strengths and schedules. Every run
is scored on the same untouched validation set with the challenge metrics
(:func:`lia_dask.cnn.evaluate.challenge_metrics`). :func:`plot_study` draws loss and AUC per
epoch, training (solid) against validation (dashed), one colour per run, in one figure;
:func:`write_study` writes that figure, ``study.csv`` (the table) and ``history.json``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .augment import AugmentConfig
from .train import CNNClassifier, CNNConfig


def default_augmentations() -> dict:
    """``none``; ``mild``: flips + 2-pixel shifts; ``strong``: flips, 4-pixel shifts, any rotation,
    zoom 0.9-1.1 and one 4-pixel mask."""
    return {"none": None,
            "mild": AugmentConfig(horizontal_flip=True, vertical_flip=True, width_shift=2, height_shift=2),
            "strong": AugmentConfig(horizontal_flip=True, vertical_flip=True, width_shift=4, height_shift=4,
                                    rotation=180.0, zoom_range=(0.9, 1.1), mask_size=4, num_masks=1)}


def default_schedules(step_every: int = 3) -> dict:
    """``constant``; ``step``: x0.5 every ``step_every`` epochs; ``cosine``: 1 warm-up epoch + cosine."""
    return {"constant": {"lr_schedule": "constant"},
            "step": {"lr_schedule": "step", "lr_drop_every": step_every, "lr_drop_factor": 0.5},
            "cosine": {"lr_schedule": "cosine", "warmup_epochs": 1}}


@dataclass
class StudyConfig:
    """Settings of :func:`run_study`.

    ``augmentations`` maps names to :class:`AugmentConfig` (or None), ``schedules`` names to
    :class:`CNNConfig` field overrides. ``search="grid"`` runs every pair; ``"optuna"`` runs
    ``n_trials`` trials of a TPE search over shift (0-4 px), rotation (0-180 deg), flips and the
    schedules, maximising ``metric`` (a validation metric of the history, best epoch).
    """

    augmentations: dict = field(default_factory=default_augmentations)
    schedules: dict = field(default_factory=default_schedules)
    search: str = "grid"
    n_trials: int = 6
    metric: str = "val_auc"
    seed: int = 0


def _run(base: CNNConfig, name: str, aug, sched: dict, train, train_y, val_x, val_y) -> tuple[dict, dict]:
    from .evaluate import challenge_metrics

    cfg = replace(base, augment=aug, **sched)
    clf = CNNClassifier(cfg).fit(train, train_y, validation_data=(val_x, val_y))
    p = clf.predict_positive(val_x)
    y = np.asarray(val_y).astype(str) == clf.classes_[1]
    h = clf.history_
    row = {"run": name, "epochs": len(h.get("loss", [])), "best_val_auc": max(h.get("val_auc", [np.nan])),
           "final_val_loss": h.get("val_loss", [np.nan])[-1], **challenge_metrics(y, p)}
    return row, h


def _labels(val) -> np.ndarray:
    from ..archive import CutoutStore, open_cutouts

    st = val if isinstance(val, CutoutStore) else open_cutouts(val)
    if st.label is None:
        raise InputError(f"validation store {st.path} has no 'label' array; the study needs labelled cutouts.")
    return np.asarray(st.label).astype(str)


def run_study(train, validation, base: CNNConfig | None = None, config: StudyConfig | None = None,
              validation_labels=None, train_labels=None) -> tuple[pd.DataFrame, dict]:
    """Train ``base`` under each augmentation x schedule (grid) or an Optuna search.

    Parameters
    ----------
    train : CutoutStore, path or ndarray (N, H, W, C)
        Training cutouts (labels from the store, as in :meth:`CNNClassifier.fit`).
    validation : CutoutStore, path or ndarray
        The fixed validation set (never augmented); ``validation_labels`` for an array
        (``train_labels`` likewise for a training array).
    base : CNNConfig
        The model and its fixed settings (architecture, epochs, batch size, base learning rate).
    config : StudyConfig

    Returns
    -------
    (pandas.DataFrame, dict)
        One row per run (``run``, ``augmentation``, ``schedule``, ``epochs``, ``best_val_auc``,
        ``final_val_loss``, AUROC, TPR0, TPR10, TPR@1%/0.1%FPR), sorted by AUROC; and
        ``{run: history}`` (per-epoch ``loss``, ``auc``, ``val_loss``, ``val_auc``, ...).
    """
    base = base or CNNConfig()
    sc = config or StudyConfig()
    vy = _labels(validation) if validation_labels is None else np.asarray(validation_labels).astype(str)
    rows, hist = [], {}
    if sc.search == "grid":
        for an, aug in sc.augmentations.items():
            for sn, sched in sc.schedules.items():
                row, h = _run(base, f"{an}+{sn}", aug, sched, train, train_labels, validation, vy)
                rows.append({**row, "augmentation": an, "schedule": sn})
                hist[row["run"]] = h
    elif sc.search == "optuna":
        import optuna

        def objective(trial):
            s = trial.suggest_int("shift", 0, 4)
            aug = AugmentConfig(horizontal_flip=trial.suggest_categorical("flip", [True, False]),
                                vertical_flip=True, width_shift=s, height_shift=s,
                                rotation=trial.suggest_float("rotation", 0.0, 180.0))
            sn = trial.suggest_categorical("schedule", sorted(sc.schedules))
            aug_name = f"shift{s}-rot{aug.rotation:.0f}" + ("-flip" if aug.horizontal_flip else "")
            row, h = _run(base, f"t{trial.number}:{aug_name}+{sn}", aug, sc.schedules[sn], train, train_labels, validation, vy)
            rows.append({**row, "augmentation": aug_name, "schedule": sn})
            hist[row["run"]] = h
            v = h.get(sc.metric)
            if not v:
                raise InputError(f"metric {sc.metric!r} is not in the training history {sorted(h)}.")
            return float(min(v) if sc.metric.endswith("loss") else max(v))

        study = optuna.create_study(direction="minimize" if sc.metric.endswith("loss") else "maximize",
                                    sampler=optuna.samplers.TPESampler(seed=sc.seed))
        study.optimize(objective, n_trials=sc.n_trials)
    else:
        raise InputError(f"search must be 'grid' or 'optuna', got {sc.search!r}.")
    table = pd.DataFrame(rows).sort_values("auroc", ascending=False, kind="stable").reset_index(drop=True)
    cols = ["run", "augmentation", "schedule"] + [c for c in table.columns if c not in ("run", "augmentation", "schedule")]
    return table[cols], hist


def plot_study(history: dict, path: str | os.PathLike, title: str = "augmentation x learning-rate study") -> Path:
    """Loss (left) and AUC (right) per epoch of every run: training solid, validation dashed."""
    from .evaluate import _figure

    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (name, h) in enumerate(history.items()):
        c = colours[k % len(colours)]
        for ax, key in zip(axes, ("loss", "auc")):
            e = np.arange(1, len(h.get(key, [])) + 1)
            ax.plot(e, h.get(key, []), color=c, lw=1.2, label=name)
            if h.get(f"val_{key}"):
                ax.plot(e, h[f"val_{key}"], color=c, lw=1.2, ls="--")
    axes[0].set_ylabel("loss (weighted BCE)")
    axes[1].set_ylabel("AUC")
    for ax in axes:
        ax.set_xlabel("epoch")
    axes[1].legend(fontsize=6, ncol=2, loc="lower right", title="solid: train, dashed: validation", title_fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_study(table: pd.DataFrame, history: dict, out: str | os.PathLike) -> dict:
    """Write ``study.csv``, ``history.json`` and ``curves.png`` into ``out``; returns their paths."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    table.to_csv(d / "study.csv", index=False)
    (d / "history.json").write_text(json.dumps(history, indent=1))
    plot_study(history, d / "curves.png")
    return {"table": str(d / "study.csv"), "history": str(d / "history.json"), "plot": str(d / "curves.png")}
