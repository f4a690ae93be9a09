"""All 168 features x 61 lightcurves x {weighted, unweighted} against MicroLIA 2.8.1's extract_all.

Tolerance: relative 1e-6, absolute 1e-9 near zero, NaN == NaN (issue 3). The weighted
percentile features depend on NumPy's SIMD sort tie order (spec §1.9.1); on a CPU where NumPy
dispatches a different sort (AVX-512) they get the looser check of ``conftest.loose_ties``.
"""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.features import FeatureSettings, extract_batch
from lia_dask.features.driver import NAMES

from .conftest import loosely_same

RTOL, ATOL = 1e-6, 1e-9


def _match(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(got) & np.isnan(ref)
    close = np.abs(got - ref) <= np.maximum(RTOL * np.abs(ref), ATOL)
    return both_nan | (close & ~np.isnan(got) & ~np.isnan(ref))


def _table(ok: dict[str, np.ndarray], names: list[str], vals, refs) -> str:
    """Per-feature match table: matches out of 61 for W and U, worst relative difference."""
    lines = [f"{'feature':45s} {'W':>6s} {'U':>6s}  worst rel. diff", "-" * 80]
    for j, name in enumerate(names):
        cells = []
        worst = 0.0
        for mode in ("weighted", "unweighted"):
            cells.append(f"{int(ok[mode][:, j].sum()):>3d}/{ok[mode].shape[0]}")
            d = np.abs(vals[mode][:, j] - refs[mode][:, j]) / np.maximum(np.abs(refs[mode][:, j]), 1e-300)
            d = d[~ok[mode][:, j]]
            if d.size:
                worst = max(worst, float(np.nanmax(np.where(np.isnan(d), np.inf, d))))
        lines.append(f"{name:45s} {cells[0]:>6s} {cells[1]:>6s}  {worst:.3g}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def results(conformance):
    b = conformance["batch"]
    vals = {}
    for mode, w in (("weighted", True), ("unweighted", False)):
        v, names = extract_batch(b, FeatureSettings(zp=22.0, convert=True, apply_weights=w))
        assert names == conformance["names"] == list(NAMES)
        vals[mode] = v
    ok = {m: _match(vals[m], conformance["ref"][m]) for m in vals}
    return vals, ok


def test_names_are_microlias(conformance):
    assert list(NAMES) == conformance["names"]
    assert len(NAMES) == 168 and NAMES[84] == "AndersonDarling_deriv"


def test_every_value_matches(results, conformance, loose_ties):
    vals, ok = results
    names = conformance["names"]
    loose = loose_ties
    failures = []
    for j, name in enumerate(names):
        for mode in ("weighted", "unweighted"):
            if mode == "weighted" and name in loose:
                # looser rule where NumPy's AVX-512 sort breaks ties differently (conftest.loose_ties)
                if not loosely_same(name, vals[mode][:, j], conformance["ref"][mode][:, j]):
                    failures.append((name, mode))
                continue
            if not ok[mode][:, j].all():
                failures.append((name, mode))
    if failures:
        pytest.fail(f"{len(failures)} (feature, mode) pairs differ from MicroLIA 2.8.1:\n"
                    + _table(ok, names, vals, conformance["ref"]))


def test_issue_target_160_of_168_on_58_of_60(results, conformance, loose_ties):
    """Issue 3's target: >= 160 features match on >= 58 of the 60 ogle2_dev lightcurves and on the reference."""
    _, ok = results
    good = 0
    for j in range(168):
        if all(ok[m][0, j] and ok[m][1:, j].sum() >= 58 for m in ok):
            good += 1
    # On AVX-512, NumPy (and so MicroLIA itself) orders ties differently from the machine that made
    # the reference values; the tie-sensitive weighted features cannot be held to them there.
    need = 160 - len(loose_ties)
    assert good >= need, f"only {good} of 168 features reach the target ({need} needed)"


def test_reference_sanity_numbers(conformance):
    """Appendix B of the spec: preprocessing of the reference lightcurve."""
    from lia_dask.features.preprocess import deriv_pass, flux_pass

    d = conformance["data"][0]
    t, x, s, f, sf = flux_pass(d[:, 0], d[:, 1], d[:, 2], 22.0, True)
    assert len(t) == 1359 and f.max() == 415.7191206752184 and int(np.argmax(f)) == 1252
    assert np.median(x) == 0.15024499029989147
    t1, d1, e1, t2, n2, e2 = deriv_pass(t, f, sf, s)
    assert len(t1) == len(t2) == 1351 and d1.max() == 1274.792542933728


def test_archive_path_reproduces_conformance(conformance, tmp_path, thread_client):
    """The 61 lightcurves written as an archive and extracted on a LocalCluster give the same values."""
    archive = pytest.importorskip("lia_dask.archive", reason="lia_dask.archive (lead's archive module) is missing")
    from lia_dask.features import extract_archive

    arch = archive.write_archive(conformance["batch"], tmp_path / "conf_arch", partition_rows=20)
    assert arch.n_partitions >= 3
    df = extract_archive(arch, FeatureSettings(zp=22.0, apply_weights=False)).compute()
    df = df.set_index("object_id").loc[conformance["keys"]]
    got = df[conformance["names"]].to_numpy()
    ok = _match(got, conformance["ref"]["unweighted"])
    assert ok.all(), f"{int((~ok).sum())} values differ through the archive path"
