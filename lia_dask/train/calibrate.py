"""Survey alerts: calibrated class probabilities, a prior shift to a survey's class fractions, and an
operating threshold on P(ML) for a target false-alert rate (pure: arrays in, arrays out).

Three steps, fitted on out-of-fold (OOF) probabilities of the training set (``cross_val_proba``),
stored as a small JSON dict in the artifact (no pickle) and applied by ``predict`` / ``evaluate``:

1. **Calibration** (``method="temperature"``): vector scaling of the log-probabilities,
   ``q = softmax(log p / T + b)`` with one temperature ``T > 0`` and one bias per class (``b_0 = 0``),
   fitted by minimizing the log loss on the OOF predictions (Guo et al. 2017, "On calibration of
   modern neural networks", ICML; the multi-class form of Platt scaling). Chosen over isotonic
   regression because it has K parameters (no over-fitting of the few hundred OOF rows per class of a
   training set), keeps the probabilities multi-class consistent, and is strictly monotone in each
   class's log-probability, so it never merges the ranking of the rare extreme scores that a low
   false-alert threshold lives on (isotonic steps do).
2. **Prior shift** (Saerens, Latinne & Decaestecker 2002, Neural Comput. 14, 21): a classifier
   trained with class fractions ``π_train`` predicts for a survey with fractions ``π_survey`` the
   probabilities ``q_c π_survey,c / π_train,c``, renormalized.
3. **Threshold**: the smallest ``t`` on the shifted P(ML) such that the expected false alerts per
   million stars, ``1e6 Σ_{c≠ML} π_survey,c P(score ≥ t | c)``, is at most the target, with
   ``P(score ≥ t | c)`` estimated from the OOF scores of the training non-events of class ``c``
   (or from a held-out set of non-events, e.g. a simulated survey of hard negatives). An object is an
   *alert* iff its shifted P(ML) ≥ t, and the decision rule of ``predict`` is: ``ML`` for alerts,
   otherwise the most probable of the other classes.

**The estimate is an order-statistic bound, not the plug-in count.** The threshold is read off the
same finite sample whose counts estimate the rate: it sits just above the score of the first non-event
it may not alert on, so the plug-in estimate ``Σ_c π_c m_c / n_c`` (``m_c`` of the ``n_c`` non-events of
class ``c`` alerted) is optimistic by about one object of that class (measured on the issue-11 test
survey: the promise of 99 per million gave 94-142 on an 81,000-star negative set). If only ``m_c`` of
class ``c`` score at or above ``t``, then ``t`` lies above the ``(m_c + 1)``-th highest class-``c`` score,
whose exceedance probability has expectation ``(m_c + 1) / (n_c + 1)`` (the order statistics of a
continuous distribution cut it into ``n_c + 1`` parts of equal expected mass; David & Nagaraja 2003,
*Order Statistics*, §2.5). So ``1e6 Σ_c π_c (m_c + 1) / (n_c + 1)`` bounds the expected rate from above,
exactly for the class whose object sets the threshold and conservatively for the others; the threshold
is the smallest for which this bound is at most the target.

**Resolution.** With no non-event alerted the bound is still ``1e6 Σ_c π_c / (n_c + 1)`` per million:
the smallest rate a sample of this size can promise (``resolution_per_million``). When the target is below
it the threshold is set just above every non-event's score and ``resolved`` is False (a warning says how
many non-events are needed). For a given total ``n`` the resolution is smallest, ``1e6 (Σ_c √π_c)² / n``,
with ``n_c ∝ √π_c`` (:func:`negative_mix`; Lagrange on ``Σ π_c / n_c`` at fixed ``Σ n_c``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from ..errors import ConfigError, InputError

#: class fractions of the issue-11 survey benchmark (50,000 constant stars, 8,000 RR Lyrae, 3,000 Miras,
#: 2,000 CVs, 500 events): conservative for real surveys, where CVs and Miras are rarer still.
DEFAULT_SURVEY_FRACTIONS = {"CONSTANT": 50_000 / 63_500, "VARIABLE": 8_000 / 63_500, "LPV": 3_000 / 63_500,
                            "CV": 2_000 / 63_500, "ML": 500 / 63_500}
EPS = 1e-12
#: the prediction column that marks alerts
ALERT_COLUMN = "alert"


@dataclass(frozen=True)
class AlertConfig:
    """Settings of the alert stage of ``lia-dask train``.

    Attributes
    ----------
    calibration : {"temperature", "none"}
        Vector scaling of the log-probabilities fitted on OOF predictions, or none.
    survey_fractions : dict, optional
        Expected class fractions of the survey (normalized over the model's classes); None:
        :data:`DEFAULT_SURVEY_FRACTIONS`. Classes missing from the dict get 0 (they cannot occur).
    max_false_alerts_per_million : float, optional
        Target false-alert rate of the threshold on P(target); None: no threshold (alerts = argmax).
    target : str
        The class that raises alerts (``ML``).
    """

    calibration: str = "temperature"
    survey_fractions: dict | None = None
    max_false_alerts_per_million: float | None = 100.0
    target: str = "ML"

    def validate(self, classes: np.ndarray) -> "AlertConfig":
        if self.calibration not in ("temperature", "none"):
            raise ConfigError(f"calibration must be 'temperature' or 'none', got {self.calibration!r}.")
        names = [str(c) for c in classes]
        if self.target not in names:
            raise ConfigError(f"the alert class {self.target!r} is not among the model's classes {names}.")
        fr = self.survey_fractions or {}
        bad = sorted(set(fr) - set(names))
        if bad:
            raise ConfigError(f"survey fractions name unknown class(es) {bad}; the model's classes are {names}.")
        if any(not (np.isfinite(v) and v >= 0) for v in fr.values()):
            raise ConfigError(f"survey fractions must be finite and >= 0, got {fr}.")
        t = self.max_false_alerts_per_million
        if t is not None and not (np.isfinite(t) and t >= 0):
            raise ConfigError(f"max_false_alerts_per_million must be >= 0, got {t}.")
        return self


def parse_fractions(items: list[str] | None) -> dict | None:
    """``["ML=1e-4", "CONSTANT=0.9", ...]`` -> dict (the CLI's ``--survey-fractions``)."""
    if not items:
        return None
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        try:
            out[key] = float(val)
        except ValueError:
            sep = ""
        if not sep or not key:
            raise ConfigError(f"--survey-fractions takes CLASS=FRACTION items, got {item!r}.")
    return out


def survey_prior(classes: np.ndarray, fractions: dict | None) -> np.ndarray:
    """Survey class fractions in ``classes`` order, normalized, shape (K,)."""
    names = [str(c) for c in classes]
    fr = DEFAULT_SURVEY_FRACTIONS if fractions is None else fractions
    pi = np.array([float(fr.get(c, 0.0)) for c in names])
    if fractions is None and pi.sum() == 0:
        pi = np.ones(len(names))
    if not pi.sum() > 0:
        raise ConfigError(f"survey fractions {fractions} give every class of {names} a zero share.")
    return pi / pi.sum()


# ------------------------------------------------------------------------------ calibration
def _vector_scale(logp: np.ndarray, T: float, b: np.ndarray) -> np.ndarray:
    return log_softmax(logp / T + b[None, :], axis=1)


def fit_temperature(proba: np.ndarray, codes: np.ndarray, sample_weight: np.ndarray | None = None
                    ) -> tuple[float, np.ndarray]:
    """Vector scaling ``softmax(log p / T + b)`` minimizing the (weighted) log loss.

    Parameters
    ----------
    proba : ndarray, shape (n, K)
        Out-of-fold class probabilities.
    codes : ndarray of int, shape (n,)
        True class index per row.

    Returns
    -------
    T : float
        Temperature (> 0; > 1 softens over-confident probabilities).
    b : ndarray, shape (K,)
        Class biases (``b[0] = 0``).
    """
    logp = np.log(np.clip(np.asarray(proba, np.float64), EPS, 1.0))
    n, K = logp.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    w = w / w.sum()

    def loss(theta):
        T = np.exp(theta[0])
        b = np.r_[0.0, theta[1:]]
        lq = _vector_scale(logp, T, b)
        val = -np.sum(w * lq[np.arange(n), codes])
        q = np.exp(lq)
        g = q.copy()
        g[np.arange(n), codes] -= 1.0  # d loss / d logits, per row
        g *= w[:, None]
        grad_b = g.sum(axis=0)[1:]
        grad_t = -np.sum(g * logp) / T  # d logits / d log T = -log p / T
        return val, np.r_[grad_t, grad_b]

    res = minimize(loss, np.zeros(K), jac=True, method="L-BFGS-B",
                   bounds=[(-4.0, 4.0)] + [(-20.0, 20.0)] * (K - 1))
    return float(np.exp(res.x[0])), np.r_[0.0, res.x[1:]]


def calibrated(proba: np.ndarray, spec: dict) -> np.ndarray:
    """Calibrated and prior-shifted probabilities, shape (n, K), from raw ``proba`` (n, K) and an
    alert spec from :func:`fit_alerts`."""
    p = np.asarray(proba, np.float64)
    if p.shape[0] == 0:
        return p
    logp = np.log(np.clip(p, EPS, 1.0))
    if spec.get("calibration") == "temperature":
        logp = _vector_scale(logp, float(spec["temperature"]), np.asarray(spec["bias"], np.float64))
    shift = np.log(np.clip(np.asarray(spec["survey_prior"]), 1e-300, None)) - np.log(np.asarray(spec["train_prior"]))
    return np.exp(log_softmax(logp + shift[None, :], axis=1))


def decide(q: np.ndarray, spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """The operating decision on calibrated probabilities ``q`` (n, K).

    Returns
    -------
    index : ndarray of int64, shape (n,)
        Class index: the alert class where ``alert``, otherwise the most probable other class
        (the argmax when the spec has no threshold).
    alert : ndarray of bool, shape (n,)
        ``q[:, target] >= threshold``.
    """
    q = np.asarray(q, np.float64)
    k = int(spec["target_index"])
    thr = spec.get("threshold")
    if thr is None or q.shape[0] == 0:
        idx = np.argmax(q, axis=1) if q.shape[0] else np.zeros(0, np.int64)
        return idx.astype(np.int64), idx == k
    alert = q[:, k] >= float(thr)
    others = q.copy()
    others[:, k] = -np.inf
    idx = np.where(alert, k, np.argmax(others, axis=1)).astype(np.int64)
    return idx, alert


# ------------------------------------------------------------------------------ threshold
def false_alert_curve(scores: np.ndarray, codes: np.ndarray, prior: np.ndarray, target_index: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Expected false alerts per million stars as a function of the threshold.

    Parameters
    ----------
    scores : ndarray, shape (n,)
        P(target) of non-events (rows whose class is not ``target_index``).
    codes : ndarray of int, shape (n,)
        Their classes.
    prior : ndarray, shape (K,)
        Survey class fractions.
    target_index : int
        The event class (its rows, if any, are ignored).

    Returns
    -------
    levels : ndarray, shape (u,)
        Distinct scores, descending.
    bound : ndarray, shape (u,)
        The order-statistic bound ``1e6 Σ_c π_c (m_c + 1) / (n_c + 1)`` per million with threshold = each
        level (alerts are ``score >= level``; ``m_c`` the class-``c`` non-events at or above it).
    plugin : ndarray, shape (u,)
        The plug-in estimate ``1e6 Σ_c π_c m_c / n_c`` at each level (what the sample shows).
    resolution : float
        The bound with no non-event alerted, ``1e6 Σ_c π_c / (n_c + 1)``: the smallest rate the sample
        can promise. Classes with survey fraction > 0 and no non-event in the sample are left out
        (``choose_threshold`` reports them).
    """
    scores = np.asarray(scores, np.float64)
    codes = np.asarray(codes)
    keep = codes != target_index
    scores, codes = scores[keep], codes[keep]
    prior = np.asarray(prior, np.float64).copy()
    prior[target_index] = 0.0
    n_c = np.bincount(codes, minlength=len(prior)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        plug = np.where(n_c > 0, 1e6 * prior / n_c, 0.0)
    step = np.where(n_c > 0, 1e6 * prior / (n_c + 1.0), 0.0)
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    levels, first = np.unique(-s, return_index=True)  # ascending of -s = descending s
    last = np.r_[first[1:], len(s)] - 1
    resolution = float(step.sum())
    if not len(s):
        return -levels, np.zeros(0), np.zeros(0), resolution
    plugin = np.cumsum(plug[codes[order]])[last]
    bound = resolution + np.cumsum(step[codes[order]])[last]
    return -levels, bound, plugin, resolution


def negative_mix(n: int, prior: np.ndarray | dict) -> np.ndarray | dict:
    """How to split ``n`` simulated non-events over classes for the best resolution.

    ``n_c ∝ √π_c`` minimizes the resolution ``1e6 Σ_c π_c / (n_c + 1)`` at fixed ``Σ_c n_c = n`` (it is then
    about ``1e6 (Σ_c √π_c)² / n`` per million): the common classes get more objects than the rare ones,
    but fewer than in survey proportions.

    Parameters
    ----------
    n : int
        Total non-events.
    prior : ndarray of shape (K,), or dict class -> fraction
        Survey fractions of the non-event classes (the event class left out or 0).

    Returns
    -------
    Integer counts summing to ``n``, of the same kind as ``prior``.
    """
    keys = list(prior) if isinstance(prior, dict) else None
    p = np.asarray([prior[k] for k in keys] if keys else prior, np.float64)
    if n < 0 or np.any(p < 0) or not np.any(p > 0):
        raise ConfigError(f"negative_mix needs n >= 0 and fractions >= 0 with one > 0, got n={n}, fractions={p.tolist()}.")
    share = np.sqrt(p) / np.sqrt(p).sum()
    counts = np.floor(share * n).astype(np.int64)
    counts[np.argsort(-(share * n - counts))[: n - counts.sum()]] += 1  # largest remainders
    return dict(zip(keys, counts.tolist())) if keys else counts


def choose_threshold(scores: np.ndarray, codes: np.ndarray, prior: np.ndarray, target_index: int,
                     max_per_million: float) -> dict:
    """The smallest threshold whose order-statistic bound on the false alerts per million is at most
    ``max_per_million`` (:func:`false_alert_curve`); keys ``threshold``, ``expected_false_alerts_per_million``
    (the bound), ``plugin_false_alerts_per_million``, ``resolution_per_million``, ``resolved``,
    ``classes_without_negatives``."""
    levels, bound, plugin, resolution = false_alert_curve(scores, codes, prior, target_index)
    missing = [int(c) for c in np.flatnonzero(np.asarray(prior) > 0) if c != target_index and not np.any(codes == c)]
    ok = np.flatnonzero(bound <= max_per_million)
    if len(levels) and len(ok) == len(levels):  # the target tolerates every non-event
        thr, est, seen = 0.0, float(bound[-1]), float(plugin[-1])
    elif len(ok) == 0:  # even the single highest-scoring non-event is too many: above all of them
        thr, est, seen = (float(np.nextafter(levels[0], np.inf)) if len(levels) else 0.0), resolution, 0.0
    else:  # the bound grows as the level falls: alert down to just above the first inadmissible level
        j = ok[-1]
        thr, est, seen = float(np.nextafter(levels[j + 1], np.inf)), float(bound[j]), float(plugin[j])
    return {"threshold": min(thr, 1.0), "expected_false_alerts_per_million": est,
            "plugin_false_alerts_per_million": seen, "resolution_per_million": resolution,
            "resolved": bool(resolution <= max_per_million), "classes_without_negatives": missing}


def fit_alerts(proba_oof: np.ndarray, y: np.ndarray, classes: np.ndarray, config: AlertConfig | None = None,
               sample_weight: np.ndarray | None = None, negatives: tuple[np.ndarray, np.ndarray] | None = None
               ) -> dict:
    """Fit calibration, prior shift and threshold; returns the JSON-able alert spec of the artifact.

    Parameters
    ----------
    proba_oof : ndarray, shape (n, K)
        Out-of-fold raw probabilities of the training rows (columns in ``classes`` order).
    y : ndarray, shape (n,)
        Training labels.
    classes : ndarray, shape (K,)
    negatives : (proba, labels), optional
        Raw probabilities (m, K) and labels (m,) of held-out non-events (e.g. a simulated survey
        with another seed) that estimate the false-alert rate instead of the OOF non-events.
    """
    classes = np.asarray(classes)
    cfg = (config or AlertConfig()).validate(classes)
    names = [str(c) for c in classes]
    codes = np.searchsorted(classes, np.asarray(y).astype(classes.dtype))
    if not np.array_equal(classes[np.clip(codes, 0, len(classes) - 1)], np.asarray(y).astype(classes.dtype)):
        raise InputError("training labels are not all among the model's classes.")
    K = len(classes)
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)
    counts = np.bincount(codes, weights=w, minlength=K)
    spec: dict = {"method": "oof", "calibration": cfg.calibration, "classes": names, "target": cfg.target,
                  "target_index": names.index(cfg.target),
                  "train_prior": (counts / counts.sum()).tolist(),
                  "survey_prior": survey_prior(classes, cfg.survey_fractions).tolist(),
                  "survey_fractions_source": "default (issue-11 survey mix)" if cfg.survey_fractions is None
                  else "user"}
    if cfg.calibration == "temperature":
        T, b = fit_temperature(proba_oof, codes, w)
        spec.update(temperature=T, bias=b.tolist())
    raw_q = np.asarray(proba_oof, np.float64)
    spec["oof_log_loss_raw"] = float(-np.mean(np.log(np.clip(raw_q[np.arange(len(codes)), codes], EPS, 1))))
    q = calibrated(proba_oof, {**spec, "survey_prior": spec["train_prior"]})  # calibration only
    spec["oof_log_loss_calibrated"] = float(-np.mean(np.log(np.clip(q[np.arange(len(codes)), codes], EPS, 1))))
    spec["threshold"] = None
    k = spec["target_index"]
    if cfg.max_false_alerts_per_million is not None:
        prior = np.asarray(spec["survey_prior"])
        if negatives is not None:
            np_, ny = negatives
            nc = np.searchsorted(classes, np.asarray(ny).astype(classes.dtype))
            keep = (nc < K) & (classes[np.clip(nc, 0, K - 1)] == np.asarray(ny).astype(classes.dtype)) & (nc != k)
            s_neg, c_neg = calibrated(np_, spec)[keep, k], nc[keep]
            spec["false_alerts_from"] = f"{int(keep.sum())} held-out non-events"
        else:
            qs = calibrated(proba_oof, spec)
            neg = codes != k
            s_neg, c_neg = qs[neg, k], codes[neg]
            spec["false_alerts_from"] = f"{int(neg.sum())} out-of-fold training non-events"
        spec["max_false_alerts_per_million"] = float(cfg.max_false_alerts_per_million)
        spec.update(choose_threshold(s_neg, c_neg, prior, k, cfg.max_false_alerts_per_million))
        qs = calibrated(proba_oof, spec)
        pos = codes == k
        spec["oof_recall_at_threshold"] = float(np.mean(qs[pos, k] >= spec["threshold"])) if pos.any() else None
        if not spec["resolved"]:
            others = np.where(np.arange(K) == k, 0.0, prior)
            need = int(np.ceil(1e6 * np.sqrt(others).sum() ** 2 / max(cfg.max_false_alerts_per_million / 2, 1e-9)))
            warnings.warn(
                f"the {spec['false_alerts_from']} resolve false-alert rates only down to "
                f"{spec['resolution_per_million']:.3g} per million, above the target "
                f"{cfg.max_false_alerts_per_million:g}: the threshold is set above every non-event's score; "
                f"about {need} non-events split as lia_dask.train.calibrate.negative_mix gives resolve half the "
                "target (simulate more non-events or give a simulated survey of hard negatives).", UserWarning,
                stacklevel=2)
    return spec


def alert_columns(proba: np.ndarray, spec: dict | None, classes: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """What ``predict`` writes: (probabilities (n, K), predicted class names (n,), alert (n,) or None)."""
    names = np.asarray(classes, dtype=object)
    if spec is None:
        idx = np.argmax(proba, axis=1) if len(proba) else np.zeros(0, np.int64)
        return proba, names[idx], None
    q = calibrated(proba, spec)
    idx, alert = decide(q, spec)
    return q, names[idx], alert

