"""The alert stage: calibration on out-of-fold probabilities, prior shift, false-alert-rate threshold, artifacts."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lia_dask.errors import ConfigError
from lia_dask.train import EnsembleClassifier
from lia_dask.train.calibrate import (AlertConfig, calibrated, choose_threshold, decide, false_alert_curve,
                                      fit_alerts, negative_mix,
                                      fit_temperature, parse_fractions, survey_prior)
from lia_dask.train.evaluate import cross_val_proba

CLASSES = np.array(["CONSTANT", "CV", "ML", "VARIABLE"])


def _overconfident(n, seed, power=3.0):
    """Scores whose true posterior is softmax(l): a model reporting softmax(3 l) is over-confident (T = 3)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, len(CLASSES), n)
    logits = rng.normal(0, 1, (n, len(CLASSES)))
    logits[np.arange(n), codes] += 1.0
    p = np.exp(power * logits)
    return p / p.sum(axis=1, keepdims=True), codes


def test_temperature_recovers_the_overconfidence():
    p, codes = _overconfident(20_000, 0)
    T, b = fit_temperature(p, codes)
    assert T == pytest.approx(3.0, rel=0.06) and np.all(np.abs(b) < 0.1)


def _xgb_table(n, seed):
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=12, n_informative=5, n_redundant=0, n_classes=4,
                               n_clusters_per_class=2, class_sep=0.8, flip_y=0.05, random_state=seed)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(12)]), CLASSES[y]


def test_calibration_improves_held_out_log_loss():
    from sklearn.metrics import log_loss

    X, y = _xgb_table(2400, 1)
    tr, te = np.arange(1600), np.arange(1600, 2400)
    clf = EnsembleClassifier(model="xgb", cv=5, random_state=0, params={"n_estimators": 200, "max_depth": 6},
                             n_jobs=1).fit(X.iloc[tr], y[tr])
    oof = cross_val_proba(clf, X.iloc[tr], y[tr], cv=5)
    raw_test = clf.predict_proba(X.iloc[te])  # no alert stage yet: raw
    train_fr = {c: float(np.mean(y[tr] == c)) for c in CLASSES}  # no prior shift: isolate the calibration
    clf.fit_alerts(oof, y[tr], AlertConfig(survey_fractions=train_fr, max_false_alerts_per_million=None))
    cal_test = clf.predict_proba(X.iloc[te])
    raw, cal = log_loss(y[te], raw_test, labels=CLASSES), log_loss(y[te], cal_test, labels=CLASSES)
    assert cal < raw - 0.02, (raw, cal)
    assert clf.alerts_["temperature"] > 1.0  # boosted trees are over-confident
    # the ranking of P(ML) hardly changes; without a threshold the decision is the argmax
    assert np.array_equal(clf.predict(X.iloc[te]), CLASSES[np.argmax(cal_test, axis=1)])


def test_prior_shift_follows_bayes():
    p = np.array([[0.25, 0.25, 0.25, 0.25], [0.1, 0.1, 0.7, 0.1]])
    spec = {"calibration": "none", "train_prior": [0.25] * 4, "survey_prior": [0.9, 0.0, 0.01, 0.09]}
    q = calibrated(p, spec)
    np.testing.assert_allclose(q[0], [0.9, 0.0, 0.01, 0.09], atol=1e-12)
    odds = q[1, 2] / q[1, 0]
    assert odds == pytest.approx((0.7 * 0.01) / (0.1 * 0.9))
    assert survey_prior(CLASSES, {"ML": 1, "CONSTANT": 3}).tolist() == [0.75, 0.0, 0.25, 0.0]


def test_threshold_gives_the_requested_false_alert_rate_on_held_out_negatives():
    rng = np.random.default_rng(5)
    prior = np.array([0.8, 0.05, 0.01, 0.14])

    def negatives(n):
        codes = rng.choice([0, 1, 3], size=n, p=[0.5, 0.25, 0.25])
        # the hard class (CV) scores higher than the others
        score = np.where(codes == 1, rng.beta(2, 5, n), rng.beta(1, 12, n))
        return score, codes

    s, c = negatives(400_000)
    for target in (100.0, 1000.0):
        r = choose_threshold(s, c, prior, 2, target)
        assert r["resolved"] and r["expected_false_alerts_per_million"] <= target
        s2, c2 = negatives(400_000)  # held out
        per = np.array([1e6 * prior[k] * np.mean(s2[c2 == k] >= r["threshold"]) if k != 2 else 0.0
                        for k in range(4)])
        assert per.sum() == pytest.approx(target, rel=0.3)


def test_the_bound_keeps_its_promise_where_the_plug_in_count_overshoots():
    """Scores with a known exceedance: class 0 uniform, P(s >= t) = 1 - t; class 3 = U^(1/2), 1 - t^2.
    A threshold read off the plug-in count of a finite sample gives more false alerts than it promises
    on average (it stops just above an object); the order-statistic bound does not."""
    prior = np.array([0.9, 0.0, 0.01, 0.09])
    target = 2000.0
    rng = np.random.default_rng(0)

    def true_rate(t):
        return 1e6 * (0.9 * (1 - t) + 0.09 * (1 - t ** 2))

    by_bound, by_count = [], []
    for _ in range(200):
        s = np.r_[rng.random(5000), rng.random(2000) ** 0.5]
        c = np.r_[np.zeros(5000, np.int64), np.full(2000, 3)]
        r = choose_threshold(s, c, prior, 2, target)
        assert r["resolved"] and r["expected_false_alerts_per_million"] <= target
        assert r["expected_false_alerts_per_million"] > r["plugin_false_alerts_per_million"]
        by_bound.append(true_rate(r["threshold"]))
        levels, bound, plugin, resolution = false_alert_curve(s, c, prior, 2)
        assert resolution == pytest.approx(1e6 * (0.9 / 5001 + 0.09 / 2001))
        assert np.all(np.diff(bound) > 0) and np.all(np.diff(plugin) > 0) and bound[0] > resolution
        j = np.flatnonzero(plugin <= target)[-1]
        by_count.append(true_rate(np.nextafter(levels[j + 1], 1.0)))
    assert 0.85 * target <= np.mean(by_bound) <= target
    assert np.mean(by_count) > target


def test_negative_mix_minimizes_the_resolution():
    prior = {"CONSTANT": 0.787, "VARIABLE": 0.126, "LPV": 0.047, "CV": 0.0315}
    mix = negative_mix(100_000, prior)
    assert sum(mix.values()) == 100_000 and mix["CONSTANT"] > mix["VARIABLE"] > mix["LPV"] > mix["CV"]
    p = np.array(list(prior.values()))

    def resolution(n):
        return 1e6 * np.sum(p / (np.asarray(n) + 1.0))

    best = resolution(list(mix.values()))
    assert best == pytest.approx(1e6 * np.sqrt(p).sum() ** 2 / 100_000, rel=1e-3)
    assert best < resolution(np.round(100_000 * p / p.sum()))  # survey proportions resolve less
    with pytest.raises(ConfigError, match="negative_mix needs"):
        negative_mix(10, {"CV": 0.0})


def test_unresolvable_target_sets_threshold_above_all_negatives():
    s = np.array([0.1, 0.5, 0.3])
    c = np.array([0, 0, 3])
    r = choose_threshold(s, c, np.array([0.9, 0.0, 0.01, 0.09]), 2, 10.0)
    assert not r["resolved"] and r["threshold"] > 0.5 and r["plugin_false_alerts_per_million"] == 0.0
    # with nothing alerted the bound is still one object per class: 1e6 (0.9 / 3 + 0.09 / 2)
    assert r["expected_false_alerts_per_million"] == pytest.approx(r["resolution_per_million"]) == pytest.approx(345_000)
    r = choose_threshold(s, c, np.array([0.9, 0.0, 0.01, 0.09]), 2, 1e6)
    assert r["threshold"] == 0.0


def test_alert_stage_round_trip_and_decision(tmp_path):
    X, y = _xgb_table(1200, 3)
    clf = EnsembleClassifier(model="xgb", cv=3, random_state=0, params={"n_estimators": 60}, n_jobs=1).fit(X, y)
    oof = cross_val_proba(clf, X, y, cv=3)
    with pytest.warns(UserWarning, match="resolve false-alert rates only down to"):
        spec = clf.fit_alerts(oof, y, AlertConfig(max_false_alerts_per_million=100))
    q = clf.predict_proba(X)
    labels, alert = clf.decide(q)
    assert np.array_equal(alert, q[:, 2] >= spec["threshold"])
    assert np.all((labels == "ML") == alert)
    assert spec["oof_log_loss_calibrated"] <= spec["oof_log_loss_raw"]
    clf.save(tmp_path / "m")
    man = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert man["alerts"]["threshold"] == spec["threshold"]
    back = EnsembleClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(back.predict_proba(X), q)
    assert np.array_equal(back.predict(X), labels)
    assert not any(p.suffix in (".pkl", ".pickle") for p in (tmp_path / "m").iterdir())


def test_alert_config_errors():
    with pytest.raises(ConfigError, match="not among the model's classes"):
        AlertConfig(target="QSO").validate(CLASSES)
    with pytest.raises(ConfigError, match="unknown class"):
        AlertConfig(survey_fractions={"RRL": 0.1}).validate(CLASSES)
    with pytest.raises(ConfigError, match="CLASS=FRACTION"):
        parse_fractions(["ML:0.1"])
    assert parse_fractions(["ML=1e-4", "CONSTANT=0.9"]) == {"ML": 1e-4, "CONSTANT": 0.9}
    idx, alert = decide(np.array([[0.2, 0.1, 0.6, 0.1]]), {"target_index": 2, "threshold": 0.7})
    assert idx.tolist() == [0] and not alert[0]


def test_held_out_negatives_set_the_threshold():
    p, codes = _overconfident(4000, 7)
    y = CLASSES[codes]
    neg_p, neg_codes = _overconfident(200_000, 8)
    keep = neg_codes != 2
    cfg = AlertConfig(calibration="none", survey_fractions={"CONSTANT": 0.9, "CV": 0.05, "ML": 0.01,
                                                            "VARIABLE": 0.04}, max_false_alerts_per_million=5000)
    spec = fit_alerts(p, y, CLASSES, cfg, negatives=(neg_p[keep], CLASSES[neg_codes[keep]]))
    assert spec["false_alerts_from"] == f"{int(keep.sum())} held-out non-events" and spec["resolved"]
    # on fresh negatives of the same kind the rate is near the target
    p2, c2 = _overconfident(200_000, 9)
    q = calibrated(p2, spec)
    prior = np.asarray(spec["survey_prior"])
    rate = sum(1e6 * prior[k] * np.mean(q[c2 == k, 2] >= spec["threshold"]) for k in (0, 1, 3))
    assert rate == pytest.approx(5000, rel=0.2)
