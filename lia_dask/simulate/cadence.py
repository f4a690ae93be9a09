"""Cadence pools: the epochs simulated lightcurves take, from a real survey or synthetic.

A ``CadencePool`` holds ``c`` cadences as ragged arrays (offsets + sorted times + a band code per
epoch). "Adaptive cadence" as in MicroLIA: every simulated lightcurve takes all epochs of one
cadence drawn uniformly with replacement, unchanged.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import schema as S
from ..batch import LightcurveBatch, _ragged_index_from
from ..errors import InputError, MissingInputError

DEFAULT_MIN_EPOCHS = 10


@dataclass(frozen=True, eq=False)
class CadencePool:
    """``c`` cadences as ragged arrays.

    Attributes
    ----------
    offsets : ndarray of int64, shape (c + 1,)
    time : ndarray of float64, shape (m,)
        Epochs in days, sorted within each cadence.
    band : ndarray of int8, shape (m,)
        Index into ``band_names`` per epoch.
    band_names : tuple of str
    source : ndarray of object, shape (c,)
        Where each cadence comes from (object id or file stem).
    """

    offsets: np.ndarray
    time: np.ndarray
    band: np.ndarray
    band_names: tuple[str, ...] = (S.DEFAULT_BAND,)
    source: np.ndarray | None = None
    stats: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n = len(self.offsets) - 1
        if n <= 0:
            raise InputError("the cadence pool is empty; give at least one lightcurve with epochs.")
        if self.band.shape != self.time.shape:
            raise InputError("cadence band codes and times differ in length.")
        lens = np.diff(self.offsets)
        t = self.time
        # per-cadence summary used by the parameter draws (vectorized; times are sorted)
        starts = self.offsets[:-1]
        self.stats["tmin"] = t[starts]
        self.stats["tmax"] = t[self.offsets[1:] - 1]
        for p in (1, 99):
            pos = (lens - 1) * (p / 100.0)
            lo = np.floor(pos).astype(np.int64)
            hi = np.minimum(lo + 1, lens - 1)
            frac = pos - lo
            self.stats[f"q{p:02d}"] = t[starts + lo] + frac * (t[starts + hi] - t[starts + lo])
        self.stats["n"] = lens

    @property
    def n_cadences(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def gather(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Epochs of the cadences ``idx`` (shape (n,)), concatenated.

        Returns
        -------
        offsets : ndarray of int64, shape (n + 1,)
        time : ndarray of float64, shape (m,)
        band : ndarray of int8, shape (m,)
        """
        idx = np.asarray(idx, np.int64)
        lens = self.lengths[idx]
        flat = _ragged_index_from(self.offsets[idx], lens)
        off = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(lens, out=off[1:])
        return off, self.time[flat], self.band[flat]

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(cls, times: Sequence[np.ndarray], bands: Sequence[np.ndarray] | None = None,
                    source: Sequence | None = None, *, min_epochs: int = DEFAULT_MIN_EPOCHS,
                    what: str = "cadence list") -> "CadencePool":
        """Pool from a list of epoch arrays (days), optionally with a band name per epoch.

        Non-finite epochs are removed and each cadence is sorted; cadences with fewer than
        ``min_epochs`` epochs are left out with a warning that says how many.

        Raises
        ------
        InputError
            The list is empty, or no cadence has ``min_epochs`` epochs.
        """
        if len(times) == 0:
            raise InputError(f"{what} holds no lightcurves; give a survey archive or a directory of lightcurve files.")
        source = np.asarray(list(source) if source is not None else np.arange(len(times)), dtype=object)
        bands_all, times_all, keep = [], [], []
        for i, t in enumerate(times):
            t = np.asarray(t, np.float64).ravel()
            bnd = (np.full(len(t), S.DEFAULT_BAND, dtype=object) if bands is None
                   else np.asarray(bands[i], dtype=object).ravel())
            if len(bnd) != len(t):
                raise InputError(f"{what}: cadence {source[i]!r} has {len(t)} epochs but {len(bnd)} band names.")
            ok = np.isfinite(t)
            t, bnd = t[ok], bnd[ok]
            if len(t) < min_epochs:
                continue
            order = np.argsort(t, kind="stable")
            bands_all.append(bnd[order])
            times_all.append(t[order])
            keep.append(i)
        dropped = len(times) - len(keep)
        if not keep:
            longest = max((int(np.isfinite(np.asarray(t, float)).sum()) for t in times), default=0)
            raise InputError(f"{what}: no cadence has at least {min_epochs} finite epochs (the longest has "
                             f"{longest}); give denser lightcurves or lower min_epochs.")
        if dropped:
            warnings.warn(f"{what}: {dropped} of {len(times)} cadences have fewer than {min_epochs} epochs "
                          f"and are not used.", stacklevel=2)
        lens = np.array([len(t) for t in times_all], np.int64)
        off = np.zeros(len(lens) + 1, np.int64)
        np.cumsum(lens, out=off[1:])
        if bands is None:
            names, codes = [S.DEFAULT_BAND], np.zeros(int(off[-1]), np.int8)
        else:
            names, codes = np.unique(np.concatenate(bands_all).astype(str), return_inverse=True)
            if len(names) > 127:
                raise InputError(f"{what}: more than 127 distinct band names.")
            codes = codes.astype(np.int8)
        return cls(off, np.concatenate(times_all), codes, tuple(str(n) for n in names), source[keep])

    @classmethod
    def from_batch(cls, batch: LightcurveBatch, *, min_epochs: int = DEFAULT_MIN_EPOCHS,
                   what: str = "lightcurve batch") -> "CadencePool":
        """Pool from a batch: the rows of one object (all its bands) form one multi-band cadence."""
        b = batch.compact()
        if len(b) == 0:
            raise InputError(f"{what} holds no lightcurves; give a survey archive or a directory of lightcurve files.")
        ids = b.object_id
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        groups = np.argsort(first)  # cadence order = first appearance
        rank = np.empty_like(groups)
        rank[groups] = np.arange(len(groups))
        row_group = rank[inverse.ravel()]
        times, bands = [[] for _ in groups], [[] for _ in groups]
        for i in range(len(b)):
            a, e = b.offsets[i], b.offsets[i + 1]
            times[row_group[i]].append(b.time[a:e])
            bands[row_group[i]].append(np.full(e - a, b.band[i], dtype=object))
        times = [np.concatenate(t) for t in times]
        bands = [np.concatenate(x) for x in bands]
        return cls.from_arrays(times, bands, ids[np.sort(first)], min_epochs=min_epochs, what=what)


def load_cadences(source, *, min_epochs: int = DEFAULT_MIN_EPOCHS, max_cadences: int | None = None) -> CadencePool:
    """Cadences from a lightcurve archive, a directory of text lightcurves, a batch or a list of arrays.

    Parameters
    ----------
    source : CadencePool, LightcurveBatch, str or Path, or sequence of ndarray
        An archive directory (``part.*.parquet``), a directory of 3-column text files (time, mag,
        magerr; searched recursively), a batch, or a list of epoch arrays (days).
    min_epochs : int
        Cadences with fewer epochs are not used (a warning says how many).
    max_cadences : int, optional
        Read at most this many lightcurves (the first ones) from an archive or directory.

    Raises
    ------
    MissingInputError
        The path does not exist.
    InputError
        The source holds no lightcurves, or none with ``min_epochs`` epochs.
    """
    if isinstance(source, CadencePool):
        return source
    if isinstance(source, LightcurveBatch):
        return CadencePool.from_batch(source, min_epochs=min_epochs)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise MissingInputError(f"cadence source {path} does not exist; give a lightcurve archive or a "
                                    f"directory of lightcurve files.")
        if path.is_dir() and any(path.glob(S.PART_GLOB)):
            from ..archive import open_archive
            from ..batch import concat_batches
            arch = open_archive(path)
            batches, n = [], 0
            for b in arch.batches():
                batches.append(b)
                n += len(b)
                if max_cadences is not None and n >= max_cadences:
                    break
            if not batches:
                raise InputError(f"cadence archive {path} holds no lightcurves; ingest survey data into it first.")
            batch = concat_batches(batches)
            if max_cadences is not None:
                batch = batch.take(np.arange(min(max_cadences, len(batch))))
            return CadencePool.from_batch(batch, min_epochs=min_epochs, what=f"cadence archive {path}")
        files = sorted(p for p in (path.rglob("*") if path.is_dir() else [path])
                       if p.is_file() and not p.name.startswith((".", "_")))
        if max_cadences is not None:
            files = files[:max_cadences]
        if not files:
            raise InputError(f"cadence directory {path} holds no lightcurve files; give a directory of "
                             f"3-column text files (time, mag, magerr) or an archive.")
        from ..archive import read_text_lightcurve
        times = [read_text_lightcurve(f)[0] for f in files]
        return CadencePool.from_arrays(times, None, [f.stem for f in files], min_epochs=min_epochs,
                                       what=f"cadence directory {path}")
    if isinstance(source, (list, tuple, np.ndarray)):
        return CadencePool.from_arrays(list(source), min_epochs=min_epochs)
    raise InputError(f"cannot use a {type(source).__name__} as cadences; give an archive path, a directory of "
                     f"lightcurve files, a LightcurveBatch or a list of epoch arrays.")


# ---------------------------------------------------------------------------- synthetic
#: LSST baseline: share of visits per band (approximately the baseline v3 survey mix)
LSST_BAND_SHARE = {"u": 0.07, "g": 0.09, "r": 0.22, "i": 0.22, "z": 0.20, "y": 0.20}


def synthetic_cadences(kind: str = "seasonal", n_cadences: int = 100, *, seed: int = 0, years: float = 3.0,
                       season_days: float = 240.0, night_fraction: float = 0.5, visits_per_year: float = 80.0,
                       start: float = 0.0) -> CadencePool:
    """Synthetic cadences for when no survey data is given.

    Parameters
    ----------
    kind : {"seasonal", "nightly", "lsst"}
        ``"seasonal"``: one I-band epoch on a random ``night_fraction`` of the nights of an
        observing season of ``season_days`` per year (ground-based bulge survey, OGLE-like);
        ``"nightly"``: one epoch every night, no seasons; ``"lsst"``: irregular multi-band visits
        (ugrizy in the LSST baseline mix), ``visits_per_year`` per field inside a 6-month season,
        half of them in same-night pairs 30 min apart in two bands.
    n_cadences : int
        Number of cadences (each a different random realisation).
    seed : int
        Seed of the cadence draws (independent of the simulation seed).
    years : float
        Survey length.
    start : float
        Time of the first night (days).
    """
    if n_cadences <= 0:
        raise InputError(f"n_cadences must be positive, got {n_cadences}.")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5EED,)))
    times, bands = [], []
    nights = np.arange(int(np.ceil(years * 365.25)), dtype=np.float64)
    for _ in range(n_cadences):
        if kind in ("seasonal", "nightly"):
            if kind == "seasonal":
                phase0 = rng.uniform(0, 365.25)
                in_season = ((nights + phase0) % 365.25) < season_days
                take = in_season & (rng.random(len(nights)) < night_fraction)
            else:
                take = np.ones(len(nights), bool)
            t = start + nights[take] + rng.uniform(0.55, 0.85, take.sum())  # time of night
            times.append(t)
            bands.append(np.full(len(t), S.DEFAULT_BAND, dtype=object))
        elif kind == "lsst":
            names = np.array(list(LSST_BAND_SHARE))
            share = np.array(list(LSST_BAND_SHARE.values()))
            share = share / share.sum()
            phase0 = rng.uniform(0, 365.25)
            season = nights[((nights + phase0) % 365.25) < 182.6]
            n_nights = max(1, int(round(visits_per_year * years / 1.5)))
            pick = np.sort(rng.choice(season, size=min(n_nights, len(season)), replace=False))
            pair = rng.random(len(pick)) < 0.5
            t1 = start + pick + rng.uniform(0.1, 0.4, len(pick))
            t2 = t1[pair] + 30.0 / 1440.0
            b1 = rng.choice(names, size=len(t1), p=share)
            b2 = rng.choice(names, size=len(t2), p=share)
            t = np.concatenate([t1, t2])
            b = np.concatenate([b1, b2]).astype(object)
            times.append(t)
            bands.append(b)
        else:
            raise InputError(f"synthetic cadence kind must be 'seasonal', 'nightly' or 'lsst', got {kind!r}.")
    return CadencePool.from_arrays(times, bands, [f"{kind}-{i}" for i in range(n_cadences)], min_epochs=1,
                                   what=f"synthetic {kind} cadences")
