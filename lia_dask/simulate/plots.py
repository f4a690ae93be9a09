"""Plot a few simulated lightcurves per class (needs matplotlib: ``pip install lia-dask[plots]``)."""
from __future__ import annotations

import numpy as np

from .. import schema as S
from ..batch import LightcurveBatch
from ..errors import InputError, MissingExtraError


def plot_simulated(batch: LightcurveBatch, n_per_class: int = 3, *, classes: tuple[str, ...] | None = None,
                   path=None, seed: int = 0, time_system: str = S.DEFAULT_TIME_SYSTEM):
    """Grid of simulated lightcurves: one row per class, ``n_per_class`` examples per row.

    Parameters
    ----------
    batch : LightcurveBatch
        A simulated batch (``label`` and ``sim_*`` columns), e.g. ``archive.read_batch(0)``.
    n_per_class : int
        Examples per class (chosen at random with ``seed``).
    classes : tuple of str, optional
        Rows to draw; default: the labels present, in ``lia_dask.schema.CLASSES`` order.
    path : path-like, optional
        Save the figure there (PNG, PDF, ... by extension).
    seed : int
        Which examples are drawn.
    time_system : str
        Label of the time axes (the archive's ``time_system``); times are shown relative to a
        round epoch in days, never with a ``+2.45e6`` offset.

    Returns
    -------
    matplotlib.figure.Figure
    """
    try:
        import matplotlib
        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a test dependency
        raise MissingExtraError.for_extra("plot_simulated", "plots", "matplotlib") from exc
    from ..plots import photometry_label, set_time_axis, time_offset

    if batch.label is None:
        raise InputError("plot_simulated needs a batch with a label column (a simulated training archive).")
    labels = batch.label.astype(str)
    classes = classes or tuple(c for c in S.CLASSES if c in set(labels))
    if not classes:
        raise InputError("the batch holds no lightcurves to plot.")
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(classes), n_per_class, figsize=(3.2 * n_per_class, 2.2 * len(classes)),
                             squeeze=False)
    for r, cls in enumerate(classes):
        rows = np.flatnonzero(labels == cls)
        pick = rng.choice(rows, size=min(n_per_class, len(rows)), replace=False) if len(rows) else []
        for c in range(n_per_class):
            ax = axes[r, c]
            if c >= len(pick):
                ax.set_axis_off()
                continue
            lc = batch[int(pick[c])]
            t_ref = time_offset(lc.time)
            ax.errorbar(lc.time - t_ref, lc.y, yerr=lc.yerr, fmt=".", ms=2, lw=0.5, color="k")
            set_time_axis(ax, t_ref, time_system)
            ax.xaxis.label.set_fontsize(7)
            if batch.photometry == "mag":
                ax.invert_yaxis()
            truth = {k[4:]: batch.extra[k][pick[c]] for k in ("sim_u0", "sim_tE", "sim_period", "sim_amplitude")
                     if k in batch.extra and np.isfinite(batch.extra[k][pick[c]])}
            ax.set_title(f"{cls} {lc.object_id} " + " ".join(f"{k}={v:.3g}" for k, v in truth.items()), fontsize=7)
            ax.tick_params(labelsize=6)
        axes[r, 0].set_ylabel(photometry_label(batch.photometry, batch.zeropoint), fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
