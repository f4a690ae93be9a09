"""Short device check: training and inference images/s of the lens CNN on whatever accelerator
TensorFlow finds (GPU with mixed precision + XLA; otherwise the CPU as is).

Trains the benchmark ResNet (DeepLens layout, width 0.5, 44 x 44 x 3 crops of survey-difficulty
cutouts simulated in memory) for ``--epochs`` epochs through the real tf.data pipeline with
batched augmentation, and reports steady-state training images/s (epochs after the first),
inference images/s, the device and the precision / XLA settings used. Runs in ~1-3 minutes.

Usage::

    .venv/bin/python benchmarks/device_check.py [--n 4096 --epochs 3 --batch-size 128]

Writes ``$OUT/device_check.json`` when ``$OUT`` is set, else ``benchmarks/_work/device_check.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--width", type=float, default=0.5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    from lia_dask.cnn import AugmentConfig, CNNClassifier, CNNConfig, LensSimConfig, simulate_lenses
    from lia_dask.cnn._tf import keras, tf

    T = tf()
    gpus = T.config.list_physical_devices("GPU")
    x, y, _ = simulate_lenses(args.n, LensSimConfig.survey(), seed=3)
    wall = []

    class Timer(keras().callbacks.Callback):
        def on_epoch_begin(self, e, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, e, logs=None):
            wall.append(time.perf_counter() - self.t)

    cfg = CNNConfig(architecture="resnet", model_params=dict(width=args.width, stages=3, units_per_stage=2),
                    image_size=44, epochs=args.epochs, batch_size=args.batch_size, learning_rate=2e-3,
                    augment=AugmentConfig(horizontal_flip=True, vertical_flip=True, width_shift=2, height_shift=2),
                    steps_per_execution=8 if gpus else 1)
    t = time.perf_counter()
    clf = CNNClassifier(cfg).fit(x, y, callbacks=[Timer()])
    train_s = time.perf_counter() - t
    clf.predict_positive(x[:256])
    t = time.perf_counter()
    p = clf.predict_positive(x, batch_size=512)
    infer_s = time.perf_counter() - t
    steady = wall[1:] or wall
    res = {"device": "GPU" if gpus else "CPU", "gpus": [g.name for g in gpus],
           "gpu_details": [T.config.experimental.get_device_details(g) for g in gpus],
           "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
           "tensorflow": T.__version__, **clf.accelerator_, "n_images": args.n, "epochs": args.epochs,
           "epoch_wall_s": wall, "train_s": train_s,
           "train_images_per_s_steady": args.n / (sum(steady) / len(steady)),
           "train_images_per_s_first_epoch": args.n / wall[0],
           "infer_images_per_s": len(p) / infer_s, "total_s": time.perf_counter() - t0,
           "load_average": os.getloadavg()}
    out = Path(os.environ["OUT"]) if os.environ.get("OUT") else ROOT / "benchmarks" / "_work"
    out.mkdir(parents=True, exist_ok=True)
    (out / "device_check.json").write_text(json.dumps(res, indent=1, default=str))
    print(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
