"""The candidate flag (``lia_dask.predict.fitfilter``): every competitor of the physical block, cut by cut."""
from __future__ import annotations

import numpy as np

from lia_dask.predict.fitfilter import CUTS, FIT_COLUMNS, FitFilterConfig, cut_results, fit_batch, passes

ZP = 22.0


def cadence(rng, years=3, season=240.0, p_night=0.35):
    """OGLE-like epochs: nightly chance ``p_night`` during a ``season``-day window each year (days)."""
    t = [365.25 * y + np.arange(season) for y in range(years)]
    t = np.concatenate([n[rng.random(len(n)) < p_night] + rng.uniform(-0.1, 0.1) for n in t])
    return np.sort(t)


def pspl_flux(t, t0, u0, tE, fs, fb):
    u = np.sqrt(u0 ** 2 + ((t - t0) / tE) ** 2)
    return fs * (u ** 2 + 2) / (u * np.sqrt(u ** 2 + 4)) + fb


def dwarf_nova_flux(t, start, base, amp, rise=1.0, plateau=8.0, tau_d=2.5):
    """One flat-topped outburst: linear rise over ``rise`` d, a ``plateau``, an exponential decline."""
    g = np.zeros_like(t)
    r = (t >= start) & (t < start + rise)
    g[r] = (t[r] - start) / rise
    g[(t >= start + rise) & (t < start + rise + plateau)] = 1.0
    d = t >= start + rise + plateau
    g[d] = np.exp(-(t[d] - start - rise - plateau) / tau_d)
    return base + amp * g


def observe(rng, t, flux, rel_err=0.01):
    """Magnitudes at ``ZP`` with Gaussian noise of ``rel_err`` of the baseline flux, and their errors."""
    err = rel_err * np.median(flux) * np.ones_like(t)
    f = flux + rng.normal(0, err)
    return ZP - 2.5 * np.log10(f), 2.5 / np.log(10) * err / f


def _fit(curves):
    off = np.concatenate([[0], np.cumsum([len(t) for t, _, _ in curves])])
    cat = [np.concatenate([c[k] for c in curves]) for k in range(3)]
    return fit_batch(off, *cat, np.arange(len(curves)), zp=ZP, convert=True)


def _curves():
    rng = np.random.default_rng(5)
    t1 = cadence(rng)
    lens = observe(rng, t1, pspl_flux(t1, 450.0, 0.2, 25.0, 1000.0, 300.0))
    t2 = np.sort(np.concatenate([cadence(rng), np.arange(400.0, 416.0, 0.5) + rng.uniform(-0.05, 0.05, 32)]))
    nova = observe(rng, t2, dwarf_nova_flux(t2, 401.0, 1000.0, 2000.0))
    return [(t1, *lens), (t2, *nova)]


def test_point_lens_passes_and_flat_topped_outburst_fails_on_the_burst_cut():
    params = _fit(_curves())
    cfg = FitFilterConfig()
    cuts = cut_results(params, cfg)
    col = {c: k for k, c in enumerate(FIT_COLUMNS[:-1])}
    assert passes(params, cfg).tolist() == [True, False]
    assert cuts[0].all()
    # the outburst is very strongly preferred to the lens (plateau sampled), and that cut rejects it
    assert params[1, col["fit_dbic_burst"]] < -cfg.dbic_min
    assert not cuts[1, CUTS.index("dbic_burst")]
    # the lens prefers itself to the outburst
    assert params[0, col["fit_dbic_burst"]] > cfg.dbic_min


def test_cut_results_agree_with_passes_and_nan_fails():
    params = _fit(_curves())
    nan = np.full((1, params.shape[1]), np.nan)
    allp = np.vstack([params, nan])
    cfg = FitFilterConfig()
    cuts = cut_results(allp, cfg)
    assert cuts.shape == (3, len(CUTS))
    assert (cuts.all(axis=1) == passes(allp, cfg)).all()
    assert not cuts[2, :-1].any() and cuts[2, -1]  # the reduced-χ² cut is off by default
    assert not cut_results(allp, FitFilterConfig(chi2_red_max=0.0))[:2, -1].any()


def test_the_burst_tolerance_is_the_fred_tolerance():
    """Both outburst shapes may be up to ``dbic_min`` better than the lens (a tie keeps a sparse event)."""
    params = _fit(_curves())[:1].copy()
    k = FIT_COLUMNS.index("fit_dbic_burst")
    cfg = FitFilterConfig(dbic_min=10.0)
    for value, ok in ((-9.9, True), (-10.1, False)):
        params[0, k] = value
        assert passes(params, cfg)[0] is np.bool_(ok)
    params[0, k] = -10.1
    assert passes(params, FitFilterConfig(dbic_min=10.2))[0]


def _one(**values):
    """A params row of a clean point lens (every cut passed), with ``values`` (FIT_COLUMNS names) set."""
    row = dict(fit_t0=100.0, fit_u0=0.3, fit_tE=20.0, fit_fs=1.0, fit_fb=0.0, fit_chi2_red=1.0, fit_dbic_const=500.0,
               fit_dbic_trend=100.0, fit_dbic_fred=50.0, fit_dbic_burst=50.0, fit_dbic_periodic=100.0,
               fit_baseline_excursion=1.0, fit_second_bump=0.0)
    row.update(values)
    return np.array([[row[c] for c in FIT_COLUMNS[:-1]]])


def test_significance_is_stricter_for_events_shorter_than_a_few_days():
    cfg = FitFilterConfig()
    assert passes(_one(fit_dbic_const=cfg.dbic_const_min + 1, fit_tE=cfg.short_tE + 1), cfg)[0]
    assert not passes(_one(fit_dbic_const=cfg.dbic_const_min - 1, fit_tE=20.0), cfg)[0]
    # one or two epochs can mimic a tE < short_tE lens: the short-event threshold applies
    assert not passes(_one(fit_dbic_const=cfg.dbic_const_min + 1, fit_tE=cfg.short_tE - 1), cfg)[0]
    assert passes(_one(fit_dbic_const=cfg.dbic_const_short_min + 1, fit_tE=cfg.short_tE - 1), cfg)[0]


def test_second_bump_allowance_grows_with_the_event_evidence():
    cfg = FitFilterConfig()
    bump = cfg.second_bump_max + 10
    assert not passes(_one(fit_second_bump=bump, fit_dbic_const=500.0), cfg)[0]  # 1 % of 500 = 5 < 25
    assert passes(_one(fit_second_bump=bump, fit_dbic_const=1.01 * bump / cfg.second_bump_rel), cfg)[0]
    assert not passes(_one(fit_second_bump=bump, fit_dbic_const=1e4), FitFilterConfig(second_bump_rel=0.0))[0]


def test_blended_low_magnification_u0_up_to_three_passes():
    cfg = FitFilterConfig()
    assert passes(_one(fit_u0=2.5), cfg)[0] and not passes(_one(fit_u0=cfg.u0_max + 0.1), cfg)[0]
