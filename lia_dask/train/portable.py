"""Portable, pickle-free forms of fitted models: what an artifact stores and prediction runs.

* XGBoost: the booster in XGBoost's own UBJSON format (``model.ubj``).
* Random forest: every tree's node arrays concatenated into one ``.npz``; prediction walks the
  trees with a numba kernel (NaN follows scikit-learn's ``missing_go_to_left``).
* MLP (with its scaler): weights and biases as ``.npz``; prediction is a NumPy forward pass.

Each portable model has ``predict_proba(X) -> (n, K)``, ``save(directory) -> (files, spec)`` and
is rebuilt with :func:`load_portable(directory, spec)`. ``spec`` is a small JSON dict kept in the
artifact manifest.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numba
import numpy as np

from ..artifact import load_arrays, save_arrays
from ..errors import ArtifactError


class PortableXGB:
    """An XGBoost booster predicting class probabilities."""

    kind = "xgb"

    def __init__(self, booster: Any, n_classes: int):
        self.booster = booster
        self.n_classes = int(n_classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, (n, K)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.shape[0] == 0:
            return np.zeros((0, self.n_classes))
        p = np.asarray(self.booster.inplace_predict(X), dtype=np.float64)
        if p.ndim == 1:
            p = np.column_stack([1.0 - p, p])
        return p

    def save(self, directory: str | Path) -> tuple[list[str], dict]:
        self.booster.save_model(str(Path(directory) / "model.ubj"))
        return ["model.ubj"], {"kind": "xgb", "n_classes": self.n_classes}

    @classmethod
    def load(cls, directory: str | Path, spec: dict) -> "PortableXGB":
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(Path(directory) / "model.ubj"))
        return cls(booster, spec["n_classes"])


@numba.njit(cache=True, nogil=True)
def _forest_proba(X, roots, left, right, feature, threshold, missing_left, value):  # pragma: no cover - numba
    n, k = X.shape[0], value.shape[1]
    out = np.zeros((n, k))
    n_trees = roots.shape[0]
    for i in range(n):
        for t in range(n_trees):
            node = roots[t]
            while left[node] >= 0:
                x = X[i, feature[node]]
                if np.isnan(x):
                    node = left[node] if missing_left[node] else right[node]
                elif x <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            s = 0.0
            for c in range(k):
                s += value[node, c]
            if s > 0:
                for c in range(k):
                    out[i, c] += value[node, c] / s
        for c in range(k):
            out[i, c] /= n_trees
    return out


class PortableForest:
    """A random forest as concatenated node arrays (child indices are global)."""

    kind = "rf"

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.a = {k: np.ascontiguousarray(v) for k, v in arrays.items()}

    @classmethod
    def from_sklearn(cls, forest: Any) -> "PortableForest":
        roots, L, R, F, T, M, V = [], [], [], [], [], [], []
        off = 0
        for est in forest.estimators_:
            t = est.tree_
            roots.append(off)
            left = t.children_left.astype(np.int64)
            right = t.children_right.astype(np.int64)
            L.append(np.where(left >= 0, left + off, -1))
            R.append(np.where(right >= 0, right + off, -1))
            F.append(np.maximum(t.feature, 0).astype(np.int64))
            T.append(t.threshold.astype(np.float64))
            mgl = getattr(t, "missing_go_to_left", None)
            M.append(np.zeros(t.node_count, np.uint8) if mgl is None else np.asarray(mgl, np.uint8))
            V.append(t.value[:, 0, :].astype(np.float64))
            off += t.node_count
        return cls(dict(roots=np.array(roots, np.int64), left=np.concatenate(L), right=np.concatenate(R),
                        feature=np.concatenate(F), threshold=np.concatenate(T),
                        missing_left=np.concatenate(M), value=np.concatenate(V)))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        a = self.a
        X = np.ascontiguousarray(X, dtype=np.float64)
        return _forest_proba(X, a["roots"], a["left"], a["right"], a["feature"], a["threshold"],
                             a["missing_left"], a["value"])

    def save(self, directory: str | Path) -> tuple[list[str], dict]:
        name = save_arrays(directory, "forest.npz", self.a)
        return [name], {"kind": "rf", "n_classes": int(self.a["value"].shape[1]),
                        "n_trees": int(self.a["roots"].size)}

    @classmethod
    def load(cls, directory: str | Path, spec: dict) -> "PortableForest":
        a = load_arrays(directory, "forest.npz")
        need = {"roots", "left", "right", "feature", "threshold", "missing_left", "value"}
        if not need <= set(a):
            raise ArtifactError(f"forest.npz in {directory} lacks {sorted(need - set(a))}.")
        return cls(a)


_ACT = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "logistic": lambda z: 1.0 / (1.0 + np.exp(-z)),
}


class PortableMLP:
    """A standardising scaler plus a multilayer perceptron, as arrays."""

    kind = "nn"

    def __init__(self, mean, scale, coefs, intercepts, activation: str, out_activation: str):
        self.mean, self.scale = np.asarray(mean, float), np.asarray(scale, float)
        self.coefs = [np.asarray(c, float) for c in coefs]
        self.intercepts = [np.asarray(b, float) for b in intercepts]
        if activation not in _ACT or out_activation not in ("softmax", "logistic"):
            raise ArtifactError(f"unsupported MLP activations {activation!r}/{out_activation!r}.")
        self.activation, self.out_activation = activation, out_activation

    @classmethod
    def from_sklearn(cls, pipeline: Any) -> "PortableMLP":
        scaler, mlp = pipeline[0], pipeline[-1]
        return cls(scaler.mean_, scaler.scale_, mlp.coefs_, mlp.intercepts_, mlp.activation, mlp.out_activation_)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        h = (np.asarray(X, float) - self.mean) / self.scale
        act = _ACT[self.activation]
        for i, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            h = h @ W + b
            if i < len(self.coefs) - 1:
                h = act(h)
        if self.out_activation == "softmax":
            h = h - h.max(axis=1, keepdims=True)
            e = np.exp(h)
            return e / e.sum(axis=1, keepdims=True)
        p = 1.0 / (1.0 + np.exp(-h[:, 0]))
        return np.column_stack([1.0 - p, p])

    def save(self, directory: str | Path) -> tuple[list[str], dict]:
        arrays = {"mean": self.mean, "scale": self.scale}
        for i, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            arrays[f"coef_{i}"], arrays[f"intercept_{i}"] = W, b
        name = save_arrays(directory, "mlp.npz", arrays)
        return [name], {"kind": "nn", "n_layers": len(self.coefs), "activation": self.activation,
                        "out_activation": self.out_activation}

    @classmethod
    def load(cls, directory: str | Path, spec: dict) -> "PortableMLP":
        a = load_arrays(directory, "mlp.npz")
        n = int(spec["n_layers"])
        try:
            coefs = [a[f"coef_{i}"] for i in range(n)]
            inter = [a[f"intercept_{i}"] for i in range(n)]
        except KeyError as exc:
            raise ArtifactError(f"mlp.npz in {directory} lacks layer array {exc}.") from None
        return cls(a["mean"], a["scale"], coefs, inter, spec["activation"], spec["out_activation"])


PORTABLE = {"xgb": PortableXGB, "rf": PortableForest, "nn": PortableMLP}


def to_portable(model: str, estimator: Any, n_classes: int) -> Any:
    """Convert a fitted estimator from :func:`~lia_dask.train.models.make_estimator`."""
    if model == "xgb":
        booster = estimator.get_booster() if hasattr(estimator, "get_booster") else estimator
        return PortableXGB(booster, n_classes)
    if model == "rf":
        return PortableForest.from_sklearn(estimator)
    if model == "nn":
        return PortableMLP.from_sklearn(estimator)
    raise ArtifactError(f"unknown model kind {model!r}.")


def load_portable(directory: str | Path, spec: dict) -> Any:
    """Rebuild a portable model saved by its ``save`` method."""
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in PORTABLE:
        raise ArtifactError(f"artifact {directory} names an unknown model kind {kind!r}.")
    return PORTABLE[kind].load(directory, spec)
