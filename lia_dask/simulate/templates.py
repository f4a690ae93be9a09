"""Template data shipped with the package: OGLE-III bulge Miras and Sesar et al. (2010) RR Lyrae.

Both tables are read once per process and cached (they are small: 6,528 Mira rows, 23 × 500
template points). See ``lia_dask/data/templates/PROVENANCE.md`` for the sources.
"""
from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from ..errors import InputError

MIRA_FILE = "ogle3_bulge_mira_periods.csv"
RRLYRAE_FILE = "rrlyrae_sesar2010_ugriz.tar.gz"
#: Sesar et al. (2010) template ids of first-overtone (RRc) stars; all others are RRab.
RRC_TEMPLATE_IDS = (0, 1)
TEMPLATE_BANDS = ("u", "g", "r", "i", "z")


def _data_file(name: str):
    return resources.files("lia_dask").joinpath("data", "templates", name)


@lru_cache(maxsize=1)
def mira_table() -> np.ndarray:
    """OGLE-III bulge Mira periods and amplitudes.

    Returns
    -------
    ndarray of float64, shape (6528, 6)
        Columns ``P1, A1, P2, A2, P3, A3``: periods in days and I-band amplitudes in mag
        (peak-to-peak, as OGLE tabulates them), one row per star, in catalogue order.
    """
    text = _data_file(MIRA_FILE).read_text()
    lines = text.splitlines()
    header = lines[0].split(",")
    cols = [header.index(c) for c in ("P1_days", "A1_mag", "P2_days", "A2_mag", "P3_days", "A3_mag")]
    rows = [ln.split(",") for ln in lines[1:] if ln.strip()]
    table = np.array([[float(r[c]) for c in cols] for r in rows], dtype=np.float64)
    table.setflags(write=False)
    return table


@dataclass(frozen=True)
class RRLyraeTemplates:
    """RR Lyrae templates of one band, resampled on a common phase grid.

    Attributes
    ----------
    ids : ndarray of int64, shape (k,)
        Sesar et al. (2010) template star ids.
    is_rrc : ndarray of bool, shape (k,)
        True for first-overtone (RRc) templates.
    phase : ndarray of float64, shape (g,)
        Phase grid 0, 1/g, ..., (g-1)/g (g = 500).
    shape : ndarray of float64, shape (k, g)
        Normalized magnitude (0 at maximum light, 1 at minimum light).
    mean : ndarray of float64, shape (k,)
        Phase-averaged normalized magnitude of each template.
    band : str
        Band of the templates (stars lacking it use their ``g`` template).
    """

    ids: np.ndarray
    is_rrc: np.ndarray
    phase: np.ndarray
    shape: np.ndarray
    mean: np.ndarray
    band: str


@lru_cache(maxsize=8)
def rrlyrae_templates(band: str = "g") -> RRLyraeTemplates:
    """The 23 Sesar et al. (2010) templates in ``band`` (``g`` where a star lacks that band).

    Raises
    ------
    InputError
        ``band`` is not one of u, g, r, i, z.
    """
    if band not in TEMPLATE_BANDS:
        raise InputError(f"RR Lyrae template band must be one of {TEMPLATE_BANDS}, got {band!r}.")
    files: dict[tuple[int, str], np.ndarray] = {}
    with _data_file(RRLYRAE_FILE).open("rb") as fh, tarfile.open(fileobj=fh, mode="r:gz") as tar:
        for member in tar.getmembers():
            m = re.fullmatch(r"(\d+)([ugriz])\.dat", member.name.rsplit("/", 1)[-1])
            if not m or not member.isfile():
                continue
            data = np.loadtxt(io.BytesIO(tar.extractfile(member).read()), dtype=np.float64)
            files[(int(m.group(1)), m.group(2))] = data
    ids = np.array(sorted({k[0] for k in files}), dtype=np.int64)
    grid = files[(int(ids[0]), "g")][:, 0]
    shapes = []
    for i in ids:
        d = files.get((int(i), band), files[(int(i), "g")])
        if d.shape[0] != grid.shape[0] or not np.allclose(d[:, 0], grid):
            d = np.column_stack([grid, np.interp(grid, d[:, 0], d[:, 1], period=1.0)])
        shapes.append(d[:, 1])
    shape = np.vstack(shapes)
    out = RRLyraeTemplates(ids, np.isin(ids, RRC_TEMPLATE_IDS), grid.copy(), shape, shape.mean(axis=1), band)
    for a in (out.ids, out.is_rrc, out.phase, out.shape, out.mean):
        a.setflags(write=False)
    return out
