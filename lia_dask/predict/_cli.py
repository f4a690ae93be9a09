"""``lia-dask predict`` and ``lia-dask candidates``."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from ..archive._cli import add_hats_arguments
    from .fitfilter import FitFilterConfig

    p = sub.add_parser("predict", help="classify every lightcurve of an archive or HATS catalog (resumable)")
    p.add_argument("archive", help="lightcurve archive, or a HATS catalog directory (detected; output is then a "
                                   "HATS catalog, one row per object)")
    p.add_argument("--model", required=True, help="ensemble artifact directory or .zip")
    p.add_argument("--out", required=True, help="output directory (one Parquet file per partition)")
    p.add_argument("--resume", dest="resume", action="store_true", default=True,
                   help="skip partitions already predicted (default)")
    p.add_argument("--no-resume", dest="resume", action="store_false", help="recompute every partition")
    p.add_argument("--fit-filter", action="store_true",
                   help="candidate flag for objects predicted ML: a PSPL fit that must beat constant, trend, "
                        "outburst and periodic models by BIC; adds fit_* and passes_fit")
    p.add_argument("--dbic-const-min", type=float, default=FitFilterConfig.dbic_const_min, help="event significance, ΔBIC constant - PSPL")
    p.add_argument("--dbic-min", type=float, default=FitFilterConfig.dbic_min,
                   help="ΔBIC PSPL must win by against trend and periodic (and FRED may win by at most)")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="predict the intact parts of an archive whose parts do not match its _archive.json")
    p.add_argument("--require-signature", action="store_true",
                   help="refuse a model artifact without a valid HMAC signature (key: LIA_DASK_ARTIFACT_KEY)")
    p.add_argument("--tE-max", type=float, default=FitFilterConfig.tE_max, help="candidate flag: largest Einstein time tE in days (default %(default)s)")
    p.add_argument("--u0-max", type=float, default=FitFilterConfig.u0_max, help="candidate flag: largest impact parameter u0 (default %(default)s)")
    p.add_argument("--chi2-max", type=float, default=None, help="optional reduced chi2 cut of the PSPL fit")
    p.add_argument("--flag-classes", nargs="+", default=["ML"],
                   help="predicted classes the candidate flag vets (e.g. ML CV LPV to rescue missed events)")
    add_hats_arguments(p)
    p.set_defaults(func=_predict)

    c = sub.add_parser("candidates", help="list the best microlensing candidates of a prediction output")
    c.add_argument("out", help="prediction output directory (of `lia-dask predict`)")
    c.add_argument("--top", type=int, default=20, help="how many candidates, best first (a positive integer; default %(default)s)")
    c.add_argument("--plots", default=None, help="directory for one lightcurve plot per candidate")
    c.add_argument("--archive", default=None, help="archive the predictions came from (default: from the outputs)")
    c.add_argument("--all", action="store_true", help="ignore the fit filter")
    c.set_defaults(func=_candidates)


def _predict(args) -> int:
    from ..archive import open_archive
    from .fitfilter import FitFilterConfig
    from .lightcurves import PredictConfig, pending_partitions, predict_archive

    cfg = PredictConfig(resume=args.resume, fit_filter=args.fit_filter, require_signature=args.require_signature,
                        fit=FitFilterConfig(dbic_const_min=args.dbic_const_min, dbic_min=args.dbic_min,
                                            tE_max=args.tE_max, u0_max=args.u0_max, chi2_red_max=args.chi2_max,
                                            classes=tuple(args.flag_classes)))
    from ..archive.hats import is_hats_catalog

    if is_hats_catalog(args.archive):
        from ..archive._cli import hats_config
        from ..cluster import client_from_args
        from .hats import predict_hats

        with client_from_args(args) as client:
            report = predict_hats(args.archive, args.model, args.out, client=client, config=cfg,
                                  hats_config=hats_config(args))
        print(report)
        print(f"counts: objects={report.n_input} predicted={report.predicted} quarantined={report.quarantined} "
              f"(objects == predicted + quarantined: {report.n_input == report.predicted + report.quarantined})")
        return 0
    archive = open_archive(args.archive, allow_incomplete=args.allow_incomplete)
    if cfg.resume and not pending_partitions(archive, args.model, args.out):
        report = predict_archive(archive, args.model, args.out, config=cfg)  # nothing to do: no cluster
    else:
        from ..cluster import start_client

        # the cluster starts (and its workers warm up) while this thread loads the model and checks the output
        with start_client(args, on_start=_warm_for(args, archive.photometry, cfg.fit_filter)) as client:
            report = predict_archive(archive, args.model, args.out, client=client, config=cfg)
    print(report)
    print(f"counts: input={report.n_input} predicted={report.predicted} quarantined={report.quarantined} "
          f"(input == predicted + quarantined: {report.n_input == report.predicted + report.quarantined})")
    return 0


def _warm_for(args, photometry: str, fit_filter: bool):
    """``on_start`` of the CLI's client: warm the workers for this model (a local artifact's manifest;
    the model is checked again, and refused with its sentence, where :func:`predict_archive` loads it)."""
    from ..archive import storage

    manifest = None
    if not storage.is_url(args.model):
        from .. import artifact
        from ..errors import LiaDaskError

        try:
            manifest = artifact.read_manifest(args.model, expected_kind="ensemble")
        except (LiaDaskError, OSError):
            manifest = None  # refused later, with the loader's sentence

    def on_start(client) -> None:
        from ..cluster_warm import WarmSpec, warm_spec_for_model, warm_workers

        warm_workers(client, WarmSpec() if manifest is None else warm_spec_for_model(manifest, photometry, fit_filter))

    return on_start


def _candidates(args) -> int:
    import json
    from pathlib import Path

    from ..archive import open_archive
    from .candidates import plot_candidates, top_candidates

    if args.top < 1:
        from ..errors import InputError

        raise InputError(f"--top must be a positive integer, got {args.top}.")
    cands = top_candidates(args.out, args.top, require_fit=False if args.all else None)
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        cols = [c for c in ("object_id", "band", "prob_ML", "fit_t0", "fit_u0", "fit_tE", "fit_dbic_const", "fit_dbic_fred",
                                  "fit_dbic_burst", "fit_dbic_periodic", "passes_fit")
                if c in cands.columns]
        print(cands[cols].to_string(index=False) if len(cands) else "no candidates")
    if args.plots and len(cands):
        src = args.archive or json.loads((Path(args.out) / "_summary.json").read_text())["input"]
        paths = plot_candidates(cands, open_archive(src), args.plots)
        print(f"wrote {len(paths)} plots to {args.plots}")
    return 0
