"""``make demo``'s job (``lia_dask.demo``) end to end at a small size: every stage runs for real
(ingest of the bundled OGLE-II samples, simulation, mining, training with the alert threshold, a
survey, partitioned prediction, plots) and the counts it prints reconcile with what it wrote."""
from __future__ import annotations

import re

from lia_dask.demo import main
from lia_dask.predict import read_predictions


def test_demo_runs_end_to_end_and_its_counts_reconcile(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["--out", str(out), "--workers", "1", "--n-per-class", "40", "--n-events", "120",
               "--non-events", "400", "--threshold-negatives", "600", "--hard-top", "30",
               "--survey-size", "800", "--n-ml", "20", "--seed", "7"])
    text = capsys.readouterr().out
    assert rc == 0
    # the survey: every object classified once, the alert counts printed are those of the files
    pred = read_predictions(out / "survey_predictions")
    assert len(pred) == 800 and pred["object_id"].is_unique
    assert (pred["label"] == "ML").sum() == 20
    m = re.search(r"\[survey\] alert: recall [0-9.]+ \((\d+)/(\d+)\), false alerts (\d+) of (\d+)", text)
    assert m, text
    found, events, n_fa, n_non = map(int, m.groups())
    alert = pred["prediction"] == "ML"
    assert (events, n_non) == (20, 780)
    assert found == int((alert & (pred["label"] == "ML")).sum())
    assert n_fa == int((alert & (pred["label"] != "ML")).sum())
    # the real samples: 60 objects, 47 events among them
    real = read_predictions(out / "ogle2_predictions")
    assert len(real) == 60
    assert re.search(r"\[real OGLE-II\] alert: recall [0-9.]+ \(\d+/47\)", text), text
    # the threshold was set on the threshold set, and the artifact and plots were written
    assert "on 600 held-out non-events" in text, text
    assert (out / "model" / "manifest.json").is_file() and any((out / "plots").iterdir())
