"""`lia-dask train` / `evaluate` end to end: real OGLE-II archive (features extracted) and a feature table."""
from __future__ import annotations

import json

import numpy as np

from lia_dask.cli import main
from lia_dask.train import EnsembleClassifier

from .conftest import make_table


def test_train_evaluate_real_archive(ogle_dir, tmp_path, tcp_cluster, capsys):
    from lia_dask.archive import IngestConfig, ingest_directory

    arch = tmp_path / "ogle"
    ingest_directory(ogle_dir, arch, IngestConfig(files_per_partition=8))
    out = tmp_path / "model"
    rc = main(["--cluster", tcp_cluster, "train", str(arch), "--out", str(out), "--model", "rf", "--cv", "3",
               "--param", "n_estimators=50", "--threads", "1",
               "--seed", "0", "--plots", str(tmp_path / "plots")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "3-fold accuracy" in text
    man = json.loads((out / "manifest.json").read_text())
    assert man["feature_set"] == "microlia-2.8.1+physical" and len(man["feature_names"]) > 168  # the recipe's default
    assert man["feature_settings"]["apply_weights"] is True
    assert set(man["classes"]) == {"microlensing", "variables"}
    assert man["metrics"]["kfold"]["k"] == 3 and man["metrics"]["kfold"]["accuracy"] > 0.7
    for name in ("confusion_matrix.png", "roc.png", "tsne.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 5000
    rc = main(["--cluster", tcp_cluster, "evaluate", str(out), "--data", str(arch), "--json", str(tmp_path / "m.json"),
               "--plots", str(tmp_path / "ev")])
    assert rc == 0
    res = json.loads((tmp_path / "m.json").read_text())["models"][0]
    m = res["data"]
    assert m["n"] + m["n_excluded_no_features"] == len(list(ogle_dir.rglob("*.dat")))
    assert m["accuracy"] > 0.9 and res["model_digest"] == man["digest"]
    assert (tmp_path / "ev" / "confusion_matrix.png").stat().st_size > 5000


def test_train_feature_table_with_selection_tuning_reweighting(tmp_path, tcp_cluster, capsys):
    df, y = make_table(n=150, d=8, informative=3, seed=7)
    df.assign(label=y, object_id=np.arange(len(df)), band="I", feature_reason=np.int8(0)).to_parquet(tmp_path / "f.parquet")
    pop = make_table(n=120, d=8, informative=3, seed=8)[0] + 0.3
    pop.to_parquet(tmp_path / "pop.parquet")
    out = tmp_path / "model"
    rc = main(["--cluster", tcp_cluster, "train", str(tmp_path / "f.parquet"), "--out", str(out), "--model", "xgb",
               "--select-trials", "8", "--tune-trials", "2", "--cv", "3", "--reweight-to", str(tmp_path / "pop.parquet"),
               "--gmm-components", "2", "--threads", "1", "--param", "n_estimators=20", "--param", "max_depth=3",
               "--plots", str(tmp_path / "plots")])
    assert rc == 0
    assert "GMM weights" in capsys.readouterr().out
    clf = EnsembleClassifier.load(out)
    assert clf.metrics_["weighted"] is True and clf.tuning_ is not None and clf.selection_ is not None
    assert clf.best_params_["n_estimators"] == 20 and clf.best_params_["max_depth"] == 3
    for name in ("feature_selection.png", "tuning_history.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 5000
    # an existing artifact is not overwritten without --overwrite; missing labels are a clear error
    assert main(["--cluster", tcp_cluster, "train", str(tmp_path / "f.parquet"), "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["--cluster", tcp_cluster, "train", str(tmp_path / "pop.parquet"), "--out", str(tmp_path / "m2")]) == 2
    assert "no 'label' column" in capsys.readouterr().err
