"""The physical block's null tests: mirrored dip, second bump, rise vs fall (``physical_nulls``)."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.features import physical as P
from lia_dask.features.physical_nulls import bump_scan, nearest_u0, rise_fall

from .test_physical import ZP, block_of, cadence, observe, pspl_flux


def fred_mag(t, tp, amp=3.0, rise=1.0, decline=0.5):
    """Dwarf-nova outburst brightening (mag, >= 0): linear rise over ``rise`` d, ``decline`` mag/d."""
    x = t - tp
    return np.where(x < 0, np.clip(amp + x / rise * amp, 0, None), np.clip(amp - decline * x, 0, None))


def normalised(t, flux, err):
    """The driver's normalisation: centred on the median flux, unit = median error."""
    c, s = np.median(flux), np.median(err)
    return (flux - c) / s, (s / err) ** 2


def test_bump_scan_sees_a_bump_and_not_a_dip_of_an_event():
    rng = np.random.default_rng(11)
    t = cadence(rng)
    flux = pspl_flux(t, 400.0, 0.3, 20.0, 500.0, 500.0)
    err = np.full(len(t), 10.0)
    f, w = normalised(t, flux + rng.normal(0, 10.0, len(t)), err)
    keep = np.ones(len(t), bool)
    ku = nearest_u0(0.3)
    bump, dip = bump_scan(t, f, w, keep, 20.0, ku)
    assert bump > 1000 and dip < 0.02 * bump  # a dip only absorbs the event through a higher constant
    # mirrored in flux, the roles swap exactly
    assert bump_scan(t, -f, w, keep, 20.0, ku) == pytest.approx((dip, bump))
    # epochs not kept are ignored: without the event's epochs nothing is left to find
    assert bump_scan(t, f, w, np.abs(t - 400.0) > 60.0, 20.0, ku)[0] < 50


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_bump_scan_with_few_epochs_is_zero_or_finite(n):
    t = np.arange(n, dtype=float)
    f = np.arange(n, dtype=float)
    w = np.ones(n)
    d = bump_scan(t, f, w, np.ones(n, bool), 5.0, 0)
    assert all(np.isfinite(d)) and min(d) >= 0
    if n < 3:
        assert d == (0.0, 0.0)


def test_mirrored_null_measures_an_event_against_red_noise():
    """Red noise makes bumps and dips alike: the bump's Δχ² alone grows, bump minus dip does not."""
    rng = np.random.default_rng(5)
    t = cadence(rng, years=4)
    err = np.full(len(t), 0.01)
    vals = {"white": [], "red": []}
    for k in range(20):
        for kind in vals:
            noise = rng.normal(0, 0.01, len(t))
            if kind == "red":  # a random walk of seasons: slow excursions both ways
                noise += 0.02 * np.sin(2 * np.pi * t / rng.uniform(30, 90) + rng.uniform(0, 6.3))
            r = block_of(t, 17.0 + noise, err, periodic=False)
            vals[kind].append((r["phys_r2_pspl"], r["phys_bump_dip"]))
    white, red = np.array(vals["white"]), np.array(vals["red"])
    assert np.median(red[:, 0]) > 1.3 * np.median(white[:, 0])  # the point lens "explains" the red noise
    assert abs(np.median(red[:, 1])) < 10 and abs(np.median(white[:, 1])) < 10  # the null does not


def test_event_has_a_large_bump_minus_dip_and_a_dimming_has_a_negative_one():
    rng = np.random.default_rng(3)
    t = cadence(rng)
    flux = pspl_flux(t, 400.0, 0.4, 25.0, 300.0, 700.0)
    mag, err = observe(rng, t, flux)
    ev = block_of(t, mag, err, periodic=False)
    dim_mag = 2 * np.median(mag) - mag  # the same lightcurve mirrored in magnitude: a dimming
    dim = block_of(t, dim_mag, err, periodic=False)
    assert ev["phys_bump_dip"] > 500 and ev["phys_bump_dip_ratio"] > 1.0
    assert dim["phys_bump_dip"] < -50 and dim["phys_bump_dip_ratio"] < 0
    # a single lens does not repeat: no second bump beyond the null on its residuals
    assert abs(ev["phys_second_bump"]) < 25 and ev["phys_second_ratio"] < -1.0


def test_recurrent_outbursts_give_a_second_bump():
    rng = np.random.default_rng(8)
    t = np.sort(np.concatenate([cadence(rng), np.arange(395, 420, 0.5), np.arange(595, 620, 0.5)]))
    mag = 18.0 - fred_mag(t, 400.0) - fred_mag(t, 600.0) + rng.normal(0, 0.02, len(t))
    r = block_of(t, mag, np.full(len(t), 0.02), periodic=False)
    one = 18.0 - fred_mag(t, 400.0) + rng.normal(0, 0.02, len(t))
    s = block_of(t, one, np.full(len(t), 0.02), periodic=False)
    assert r["phys_second_bump"] > 100 and r["phys_second_ratio"] > -1.0
    assert abs(s["phys_second_bump"]) < 25 and s["phys_second_ratio"] < r["phys_second_ratio"] - 1.0


def test_rise_fall_sign_and_magnitude():
    t = np.arange(-30.0, 30.0, 0.25)
    t0, u0, tE, fs, fb = 0.0, 0.2, 5.0, 100.0, 100.0
    w = np.ones(len(t))
    sym = pspl_flux(t, t0, u0, tE, fs, fb)
    lr, dc = rise_fall(t, sym, w, t0, u0, tE, fs, fb)
    assert abs(lr) < 1e-3 and dc < 1e-6  # a point lens is time-symmetric
    # slower fall than rise: the fall's Einstein time is 2x the rise's
    asym = np.where(t < t0, pspl_flux(t, t0, u0, tE, fs, fb), pspl_flux(t, t0, u0, 2 * tE, fs, fb))
    lr, dc = rise_fall(t, asym, w, t0, u0, tE, fs, fb)
    assert lr == pytest.approx(np.log10(2.0), abs=0.03) and dc > 100
    rev = np.where(t < t0, pspl_flux(t, t0, u0, 2 * tE, fs, fb), pspl_flux(t, t0, u0, tE, fs, fb))
    lr2, _ = rise_fall(t, rev, w, t0, u0, tE, fs, fb)
    assert lr2 == pytest.approx(-np.log10(2.0), abs=0.03)  # time-reversed: faster fall
    # a side with fewer than 2 epochs: no information
    assert rise_fall(t[t > -0.3], asym[t > -0.3], w[t > -0.3], t0, u0, tE, fs, fb) == (0.0, 0.0)
    assert rise_fall(t, asym, w, t0, u0, tE, -1.0, fb) == (0.0, 0.0)


def test_null_columns_are_finite_when_fitted_and_nan_with_a_reason_otherwise():
    rng = np.random.default_rng(4)
    t = cadence(rng)
    mag = 17.0 + rng.normal(0, 0.01, len(t))
    mag[5] = np.nan
    r = block_of(t, mag, np.full(len(t), 0.01), periodic=False)
    new = ("phys_bump_dip", "phys_bump_dip_ratio", "phys_second_bump", "phys_second_ratio", "phys_rise_fall",
           "phys_rise_fall_dchi2")
    assert set(new) <= set(P.CORE_NAMES)
    assert r["phys_reason"] == P.PHYS_OK and all(np.isfinite(r[c]) for c in new)
    few = block_of(t[:3], mag[:3], np.full(3, 0.01), periodic=False)
    assert few["phys_reason"] == P.PHYS_FEW and all(np.isnan(few[c]) for c in new)


def _scan_every_trial(t, f, w, keep, tE, ku):
    """bump_scan's scan in plain Python with every trial evaluated (no bound): its reference."""
    from lia_dask.features.physical_nulls import SCAN_STEP_MIN
    from lia_dask.features.physical_search import TAB, TAB_N, TAB_SCALE, U0_GRID, WINDOW

    tk = t[keep]
    sw = w[keep].sum()
    mu = (w[keep] * f[keep]).sum() / sw
    half, sc, step = WINDOW * tE, TAB_SCALE / tE, max(U0_GRID[ku], SCAN_STEP_MIN) * tE
    bump = dip = 0.0
    t0 = tk[0] - tE
    while t0 <= tk[-1] + tE:
        window = (t >= t0 - half) & (t <= t0 + half)
        inside = keep & window
        if not window.any():
            later = t[t >= t0 - half]
            if len(later) == 0:
                break
            t0 += max(step, np.ceil((later[0] - half - t0) / step) * step)
            continue
        a = TAB[ku][np.minimum((np.abs(t[inside] - t0) * sc).astype(int), TAB_N)]
        wa = w[inside] * a
        sa, saa, saf = wa.sum(), (wa * a).sum(), (wa * f[inside]).sum()
        v = saa - sa * sa / sw
        if v > 1e-12 * saa:
            c = saf - sa * mu
            if c > 0:
                bump = max(bump, c * c / v)
            else:
                dip = max(dip, c * c / v)
        t0 += step
    return bump, dip


@pytest.mark.parametrize("seed", range(6))
def test_bump_scan_with_its_bound_equals_the_scan_of_every_trial(seed):
    """The scan skips trials whose Cauchy–Schwarz bound is below both maxima so far: the maxima are
    those of evaluating every trial (events, outbursts, dips, noise; all or some epochs kept)."""
    rng = np.random.default_rng(60 + seed)
    t = cadence(rng, p_night=rng.uniform(0.1, 0.6))
    flux = np.full(len(t), 1000.0)
    if seed % 3 == 0:
        flux = pspl_flux(t, rng.uniform(t.min(), t.max()), 0.2, rng.uniform(5, 80), 600.0, 400.0)
    elif seed % 3 == 1:
        flux = flux * 10 ** (0.4 * fred_mag(t, rng.uniform(t.min(), t.max())))
    err = np.full(len(t), 8.0)
    f, w = normalised(t, flux + rng.normal(0, 8.0, len(t)) - (seed == 5) * 300 * (np.abs(t - 500) < 20), err)
    for keep in (np.ones(len(t), bool), rng.uniform(size=len(t)) < 0.7):
        for tE, u0 in ((3.0, 0.1), (25.0, 0.5), (300.0, 0.12)):
            ku = nearest_u0(u0)
            got = bump_scan(t, f, w, keep, tE, ku)
            np.testing.assert_allclose(got, _scan_every_trial(t, f, w, keep, tE, ku), rtol=1e-9, atol=1e-9)
