"""Multi-band prediction: one row per object from all its bands (a model trained on the multi-band table).

:func:`predict_multiband_batch` is what :func:`lia_dask.predict.lightcurves.predict_batch` runs when the
artifact's feature set is ``"multiband"``: multi-band features (``lia_dask.features.multiband``) ->
impute -> selected features -> ``predict_proba``. The model's bands come from its artifact; bands the
data has beyond them are not used, bands it lacks are NaN columns the model handles.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import schema as S
from ..batch import LightcurveBatch

#: column listing the bands an object was observed in (multi-band predictions have no ``band``)
BANDS_COLUMN = "bands"
#: joint-fit columns carried into multi-band predictions for vetting
VETTING_COLUMNS = ("mb_log_tE", "mb_log_u0", "mb_chi2_red_pspl")


def object_count(batch: LightcurveBatch) -> int:
    """Distinct objects of a batch (the unit of multi-band predictions)."""
    return int(pd.unique(pd.Series(batch.object_id)).size)


def object_slices(batch: LightcurveBatch, rows: int) -> list[tuple[int, int]]:
    """Row ranges of about ``rows`` rows that never cut through an object's (adjacent) rows."""
    n = len(batch)
    if n <= rows:
        return [(0, n)]
    ids = batch.object_id
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    cuts = [0]
    for s in starts[1:]:
        if s - cuts[-1] >= rows:
            cuts.append(int(s))
    return list(zip(cuts, cuts[1:] + [n]))


def predict_multiband_batch(batch: LightcurveBatch, classifier: Any, digest: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classify the objects of a batch with a multi-band model.

    Returns
    -------
    predictions : pandas.DataFrame
        One row per object with features: ``object_id``, ``bands`` (observed, comma-separated),
        ``prediction``, ``prob_<CLASS>``, ``label`` (training data), ``ra`` / ``dec`` /
        ``_healpix_29`` (HATS input), :data:`VETTING_COLUMNS`, ``model_digest``. Only the model's
        selected features are computed.
    quarantine : pandas.DataFrame
        Objects without any computable feature; predictions + quarantine = distinct objects.
    """
    from ..features.multiband import MultibandSettings, multiband_frame

    settings = MultibandSettings.from_dict(dict(classifier.feature_settings_))
    used = [str(c) for c in getattr(classifier, "selected_features_", None) or classifier.feature_names_in_]
    feats, quarantine = multiband_frame(batch, settings, columns=used)  # only the columns the model uses
    X = feats.reindex(columns=used)
    proba = classifier.predict_proba(X) if len(X) else np.zeros((0, len(classifier.classes_)))
    classes = [str(c) for c in classifier.classes_]
    observed = (pd.DataFrame({"o": batch.object_id.astype(str), "b": batch.band.astype(str)})
                .groupby("o", sort=False)["b"].agg(lambda b: ",".join(sorted(set(b)))))
    cols: dict[str, Any] = {S.OBJECT_ID: feats[S.OBJECT_ID].to_numpy(),
                            BANDS_COLUMN: observed.reindex(feats[S.OBJECT_ID].astype(str)).to_numpy(),
                            S.PREDICTION: np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
                            if len(X) else np.array([], dtype=object)}
    for k, c in enumerate(classes):
        cols[f"{S.PROB_PREFIX}{c}"] = proba[:, k]
    pred = pd.DataFrame(cols)
    for c in (S.LABEL, "ra", "dec", "_healpix_29"):
        if c in feats.columns:
            pred[c] = feats[c].to_numpy()
    for c in VETTING_COLUMNS:  # the joint point-lens fit, for vetting (NaN when the model uses no mb_* feature)
        pred[c] = feats[c].to_numpy() if c in feats.columns else np.full(len(feats), np.nan)
    pred[S.MODEL_DIGEST] = digest
    return pred, quarantine
