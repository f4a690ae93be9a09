"""``LightcurveBatch``: many lightcurves as ragged arrays (offsets + values).

Arrow list arrays are offsets + values, so a Parquet partition of the nested archive becomes a
batch without copying the epochs. Kernels (``lia_dask.features``) consume the flat arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, NamedTuple, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from . import schema as S
from .errors import ArchiveError, InputError


class Lightcurve(NamedTuple):
    """One lightcurve: views (not copies) into a batch's arrays."""

    object_id: object
    band: str
    time: np.ndarray
    y: np.ndarray
    yerr: np.ndarray
    label: str | None


@dataclass(frozen=True, eq=False)
class LightcurveBatch:
    """Ragged arrays for ``n`` lightcurves holding ``m`` epochs in total.

    Attributes
    ----------
    object_id : ndarray, shape (n,)
        int64 or object (str) survey identifiers, as given.
    band : ndarray of object, shape (n,)
        Filter name per row.
    offsets : ndarray of int64, shape (n + 1,)
        Lightcurve ``i`` is ``time[offsets[i]:offsets[i + 1]]`` (likewise ``y``, ``yerr``).
        ``offsets[0]`` need not be 0: a batch may view a slice of a larger Arrow buffer.
    time : ndarray of float64, shape (>= m,)
        Epochs in days, sorted within each lightcurve.
    y, yerr : ndarray of float64, shape (>= m,)
        Magnitudes and errors (``photometry == "mag"``) or fluxes and errors (``"flux"``).
    photometry : {"mag", "flux"}
    zeropoint : float
        Photometric zero point used to convert magnitudes to flux.
    label : ndarray of object, shape (n,), optional
        Class labels (training archives).
    extra : dict of str to ndarray, shape (n,) each
        Further per-object columns (``sim_*`` truth).
    """

    object_id: np.ndarray
    band: np.ndarray
    offsets: np.ndarray
    time: np.ndarray
    y: np.ndarray
    yerr: np.ndarray
    photometry: str = "mag"
    zeropoint: float = S.DEFAULT_ZEROPOINT
    label: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.object_id)
        if self.offsets.shape != (n + 1,):
            raise InputError(f"offsets must have shape ({n + 1},) for {n} objects, got {self.offsets.shape}.")
        if self.photometry not in S.PHOTOMETRY_COLUMNS:
            raise InputError(f"photometry must be 'mag' or 'flux', got {self.photometry!r}.")
        if len(self.band) != n or (self.label is not None and len(self.label) != n):
            raise InputError("band and label must have one entry per object.")
        if n and (np.any(np.diff(self.offsets) < 0) or self.offsets[-1] > len(self.time)):
            raise InputError("offsets must be non-decreasing and within the value arrays.")

    # ---------------------------------------------------------------- basic views
    def __len__(self) -> int:
        return len(self.object_id)

    @property
    def n_objects(self) -> int:
        return len(self.object_id)

    @property
    def lengths(self) -> np.ndarray:
        """Number of epochs per lightcurve, shape (n,)."""
        return np.diff(self.offsets)

    @property
    def n_epochs(self) -> int:
        return int(self.offsets[-1] - self.offsets[0]) if len(self) else 0

    def __getitem__(self, i: int) -> Lightcurve:
        if not -len(self) <= i < len(self):
            raise IndexError(f"lightcurve index {i} out of range for a batch of {len(self)}.")
        i = i % len(self)
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        lab = None if self.label is None else self.label[i]
        return Lightcurve(self.object_id[i], self.band[i], self.time[a:b], self.y[a:b], self.yerr[a:b], lab)

    def __iter__(self) -> Iterator[Lightcurve]:
        for i in range(len(self)):
            yield self[i]

    def compact(self) -> "LightcurveBatch":
        """This batch with ``offsets[0] == 0`` and value arrays holding exactly its epochs (views, no copy)."""
        a, b = int(self.offsets[0]), int(self.offsets[-1])
        if a == 0 and b == len(self.time):
            return self
        return replace(self, offsets=self.offsets - a, time=self.time[a:b], y=self.y[a:b], yerr=self.yerr[a:b])

    def take(self, rows: Sequence[int] | np.ndarray) -> "LightcurveBatch":
        """A new (copied) batch holding the given rows in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = self.offsets[rows], self.offsets[rows + 1]
        lens = stops - starts
        new_off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        idx = _ragged_index_from(starts, lens)
        return LightcurveBatch(
            self.object_id[rows], self.band[rows], new_off, self.time[idx], self.y[idx], self.yerr[idx],
            self.photometry, self.zeropoint,
            None if self.label is None else self.label[rows],
            {k: v[rows] for k, v in self.extra.items()},
        )

    def astype(self, dtype) -> "LightcurveBatch":
        """The same batch with ``time``, ``y`` and ``yerr`` cast to ``dtype``."""
        return LightcurveBatch(
            self.object_id, self.band, self.offsets, self.time.astype(dtype), self.y.astype(dtype),
            self.yerr.astype(dtype), self.photometry, self.zeropoint, self.label, dict(self.extra),
        )

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_lightcurves(
        cls,
        object_ids: Sequence,
        times: Sequence[np.ndarray],
        ys: Sequence[np.ndarray],
        yerrs: Sequence[np.ndarray],
        *,
        bands: Sequence[str] | str = S.DEFAULT_BAND,
        labels: Sequence[str] | None = None,
        photometry: str = "mag",
        zeropoint: float = S.DEFAULT_ZEROPOINT,
        extra: dict[str, np.ndarray] | None = None,
    ) -> "LightcurveBatch":
        """Build a batch from per-object arrays (copies them into flat buffers)."""
        n = len(object_ids)
        if not (len(times) == len(ys) == len(yerrs) == n):
            raise InputError("object_ids, times, ys and yerrs must have the same length.")
        lens = np.array([len(t) for t in times], dtype=np.int64)
        for i in range(n):
            if not (len(ys[i]) == len(yerrs[i]) == lens[i]):
                raise InputError(f"object {object_ids[i]!r}: time, y and yerr differ in length.")
        off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        cat = lambda seq: np.concatenate([np.asarray(a, np.float64) for a in seq]) if n else np.empty(0)
        if isinstance(bands, str):
            bands = [bands] * n
        return cls(
            _id_array(object_ids), np.asarray(bands, dtype=object), off, cat(times), cat(ys), cat(yerrs),
            photometry, zeropoint, None if labels is None else np.asarray(labels, dtype=object),
            {k: np.asarray(v) for k, v in (extra or {}).items()},
        )

    @classmethod
    def from_arrow(
        cls,
        table: pa.Table | pa.RecordBatch,
        *,
        photometry: str | None = None,
        zeropoint: float | None = None,
        source: str = "table",
    ) -> "LightcurveBatch":
        """View a nested Arrow table (schema of ``lia_dask.schema.lightcurve_schema``) as a batch.

        The epoch values are not copied when each list column is one chunk without nulls and the
        three list columns share their offsets (always true for archives lia_dask writes).
        Photometry kind and zero point default to the table's Parquet metadata.
        """
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        meta = table.schema.metadata or {}
        if photometry is None:
            photometry = meta.get(S.META_PHOTOMETRY.encode(), b"").decode() or (
                "flux" if S.FLUX in table.column_names else "mag")
        if zeropoint is None:
            zeropoint = float(meta.get(S.META_ZEROPOINT.encode(), S.DEFAULT_ZEROPOINT))
        ycol, ecol = S.PHOTOMETRY_COLUMNS[photometry]
        for col in (S.OBJECT_ID, S.TIME, ycol, ecol):
            if col not in table.column_names:
                raise ArchiveError(f"{source}: required column '{col}' is missing (columns: {table.column_names}).")
        n = table.num_rows
        offsets, values = [], []
        for col in (S.TIME, ycol, ecol):
            arr = table.column(col)
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
            if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
                raise ArchiveError(f"{source}: column '{col}' must be a list column, got {arr.type}.")
            if arr.null_count:
                arr = pa.compute.fill_null(arr, pa.scalar([], arr.type))
            off = arr.offsets.to_numpy()
            vals = arr.values
            if vals.null_count:
                vals = pa.compute.fill_null(vals, np.nan)
            vals = vals.cast(pa.float64()) if vals.type != pa.float64() else vals
            offsets.append(off)
            values.append(vals.to_numpy(zero_copy_only=vals.null_count == 0))
        if not (np.array_equal(offsets[0], offsets[1]) and np.array_equal(offsets[0], offsets[2])):
            lens = [np.diff(o) for o in offsets]
            bad = np.flatnonzero((lens[0] != lens[1]) | (lens[0] != lens[2]))
            if len(bad):
                oid = table.column(S.OBJECT_ID)[int(bad[0])].as_py()
                raise ArchiveError(f"{source}: object {oid!r} has time, {ycol} and {ecol} lists of different lengths.")
            # same lengths but different buffers: copy into one layout
            idx = [_ragged_index(o.astype(np.int64)) for o in offsets]
            values = [v[i] for v, i in zip(values, idx)]
            offsets = [np.concatenate([[0], np.cumsum(lens[0])])]
        ids = table.column(S.OBJECT_ID).to_numpy()
        bands = (table.column(S.BAND).to_numpy(zero_copy_only=False).astype(object)
                 if S.BAND in table.column_names else np.full(n, S.DEFAULT_BAND, dtype=object))
        label = (table.column(S.LABEL).to_numpy(zero_copy_only=False).astype(object)
                 if S.LABEL in table.column_names else None)
        extra = {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names
                 if c.startswith(S.SIM_PREFIX) or c == S.SOURCE_FILE}
        return cls(_id_array(ids), bands, offsets[0].astype(np.int64, copy=False), values[0], values[1], values[2],
                   photometry, zeropoint, label, extra)

    @classmethod
    def from_long(
        cls,
        data: pd.DataFrame | pa.Table,
        *,
        object_col: str = S.OBJECT_ID,
        time_col: str = S.TIME,
        y_col: str = S.MAG,
        yerr_col: str = S.MAGERR,
        band_col: str | None = None,
        label_col: str | None = None,
        photometry: str = "mag",
        zeropoint: float = S.DEFAULT_ZEROPOINT,
        assume_sorted: bool = False,
    ) -> "LightcurveBatch":
        """Build a batch from a long table (one row per epoch).

        Rows are grouped by (object, band); unless ``assume_sorted``, they are first sorted by
        (object, band, time) with a stable sort, which is lossless.
        """
        df = data.to_pandas() if isinstance(data, pa.Table) else data
        for c in (object_col, time_col, y_col, yerr_col, band_col, label_col):
            if c is not None and c not in df.columns:
                raise InputError(f"column '{c}' is not in the long table (columns: {list(df.columns)}).")
        obj = df[object_col].to_numpy()
        band = (df[band_col].astype(str).to_numpy(dtype=object) if band_col
                else np.full(len(df), S.DEFAULT_BAND, dtype=object))
        t = df[time_col].to_numpy(np.float64)
        if not assume_sorted:
            order = np.lexsort((t, band, obj))
            obj, band, t = obj[order], band[order], t[order]
        else:
            order = slice(None)
        y = df[y_col].to_numpy(np.float64)[order]
        e = df[yerr_col].to_numpy(np.float64)[order]
        if len(obj):
            change = np.flatnonzero((obj[1:] != obj[:-1]) | (band[1:] != band[:-1])) + 1
            starts = np.concatenate([[0], change])
        else:
            starts = np.empty(0, np.int64)
        off = np.concatenate([starts, [len(obj)]]).astype(np.int64)
        label = df[label_col].to_numpy(dtype=object)[order][starts] if label_col else None
        return cls(_id_array(obj[starts]), band[starts], off, t, y, e, photometry, zeropoint, label)

    # ---------------------------------------------------------------- conversion
    def to_arrow(self) -> pa.Table:
        """The nested Arrow table of this batch (archive schema, with its Parquet metadata)."""
        b = self.compact()
        end = int(b.offsets[-1])
        off = pa.array(b.offsets, pa.int32() if end < 2**31 else pa.int64())
        mk = (pa.ListArray if end < 2**31 else pa.LargeListArray).from_arrays
        ycol, ecol = S.PHOTOMETRY_COLUMNS[self.photometry]
        ids = pa.array(b.object_id.tolist() if b.object_id.dtype == object else b.object_id)
        cols = {
            S.OBJECT_ID: ids,
            S.BAND: pa.array(b.band.tolist(), pa.string()),
            S.TIME: mk(off, pa.array(b.time[:end], pa.float64())),
            ycol: mk(off, pa.array(b.y[:end], pa.float64())),
            ecol: mk(off, pa.array(b.yerr[:end], pa.float64())),
        }
        if b.label is not None:
            cols[S.LABEL] = pa.array(b.label.tolist(), pa.string())
        for k, v in b.extra.items():
            cols[k] = pa.array(v)
        table = pa.table(cols)
        return table.replace_schema_metadata(S.archive_metadata(self.photometry, self.zeropoint, S.DEFAULT_TIME_SYSTEM))

    def to_long(self) -> pd.DataFrame:
        """A long pandas table (one row per epoch) with archive column names."""
        b = self.compact()
        ycol, ecol = S.PHOTOMETRY_COLUMNS[self.photometry]
        rep = np.repeat(np.arange(len(b)), b.lengths)
        df = pd.DataFrame({S.OBJECT_ID: b.object_id[rep], S.BAND: b.band[rep], S.TIME: b.time,
                           ycol: b.y, ecol: b.yerr})
        if b.label is not None:
            df[S.LABEL] = b.label[rep]
        return df

    def to_flux(self) -> "LightcurveBatch":
        """The batch in flux units of the zero point: ``f = 10**(-(m - zp)/2.5)``, ``σ_f = σ_m f ln10 / 2.5``."""
        if self.photometry == "flux":
            return self
        f = 10.0 ** ((-(self.y - self.zeropoint)) / 2.5)
        fe = ((self.yerr * f) / 2.5) * np.log(10.0)
        return LightcurveBatch(self.object_id, self.band, self.offsets, self.time, f, fe, "flux",
                               self.zeropoint, self.label, dict(self.extra))


def concat_batches(batches: Sequence[LightcurveBatch]) -> LightcurveBatch:
    """Concatenate batches of one photometry kind into one (copies)."""
    batches = [b.compact() for b in batches]
    if not batches:
        raise InputError("concat_batches needs at least one batch.")
    phot = {b.photometry for b in batches}
    if len(phot) > 1:
        raise InputError(f"cannot concatenate batches of different photometry kinds {sorted(phot)}.")
    lens = np.concatenate([b.lengths for b in batches])
    labels = None
    if all(b.label is not None for b in batches):
        labels = np.concatenate([b.label for b in batches])
    keys = set.intersection(*(set(b.extra) for b in batches)) if batches else set()
    return LightcurveBatch(
        _id_array(np.concatenate([b.object_id for b in batches])),
        np.concatenate([b.band for b in batches]),
        np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
        np.concatenate([b.time for b in batches]), np.concatenate([b.y for b in batches]),
        np.concatenate([b.yerr for b in batches]), batches[0].photometry, batches[0].zeropoint,
        labels, {k: np.concatenate([b.extra[k] for b in batches]) for k in keys},
    )


# ------------------------------------------------------------------------ helpers
def _id_array(ids) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    return arr.astype(object)


def _ragged_index(offsets: np.ndarray) -> np.ndarray:
    """Flat indices of all epochs addressed by ``offsets`` (shape (n+1,))."""
    return np.arange(offsets[0], offsets[-1], dtype=np.int64)


def _ragged_index_from(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Flat indices of the epochs of rows starting at ``starts`` with ``lens`` epochs each."""
    total = int(lens.sum())
    pos = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    return np.repeat(starts - pos, lens) + np.arange(total, dtype=np.int64)
