"""Make the tutorial's figures (docs/figures/*.png, explain.md) and the small trained SSD they show.

    .venv/bin/python docs/make_figures.py            # reuse docs/figures/tiny-NNNN.params if present
    .venv/bin/python docs/make_figures.py --retrain  # train it again first (about 1-2 minutes)

The network is `ssdref demo --quick`'s: the tiny SSD with the demo's config overrides
(ssdref.demo.DEMO_CONFIG: no L2 normalization, one aspect ratio per layer, NMS 0.45) trained by
ssdref.train.train_ssd with the demo's quick schedule (ssdref.demo.SETTINGS['quick']: 768 images,
8 epochs, lr 0.1 with a 50-update warm-up, one decay by 10 after epoch 6; 384 updates), seed 0.
Deterministic: sequential float32 NumPy/Numba, bit-identical on rerun; single-threaded as the demo
runs. The checkpoint is written in MXNet's .params format, and the figures are
`ssdref.explain.explain(**EXPLAIN, figures=True)`, the very call docs/tutorial.md makes (with
figures=False), drawn by matplotlib's Agg canvas without a timestamp.
"""
import argparse
import os
import sys

# As `ssdref demo`: one thread per pool (set before NumPy/Numba load; the user's own settings win).
for _name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
sys.path.insert(0, ROOT)

from ssdref.demo import BATCH_SIZE, DATA_SHAPE, DEMO_CONFIG, SETTINGS  # noqa: E402

FIGURES = os.path.join(DOCS, "figures")
PREFIX = os.path.join(FIGURES, "tiny")
# train_ssd's keyword arguments: the demo's quick settings minus its evaluation entries.
QUICK = {k: v for k, v in SETTINGS["quick"].items() if k not in ("num_val", "target")}
TRAIN = dict(network="tiny", data_shape=DATA_SHAPE, num_classes=3, batch_size=BATCH_SIZE, seed=0,
             config=DEMO_CONFIG, **QUICK)
EXPLAIN = dict(image_index=3, seed=0, config=DEMO_CONFIG, params="docs/figures/tiny", epoch=TRAIN["epochs"])


def train(log=print):
    """Train the tutorial's tiny SSD and save docs/figures/tiny-%04d.params (arg: and aux: arrays)."""
    from ssdref.io.mxnet_params import checkpoint_params_path, save_params
    from ssdref.train import train_ssd

    result = train_ssd(progress=True, **TRAIN)
    path = checkpoint_params_path(PREFIX, TRAIN["epochs"])
    save_params(path, result.arg_params, result.aux_params)
    epochs = ", ".join(f"{ce:.3f}/{sl1:.3f}" for ce, sl1 in zip(result.history["epoch_cross_entropy"],
                                                                 result.history["epoch_smooth_l1"]))
    log(f"{len(result.history['iteration'])} updates; CrossEntropy/SmoothL1 per epoch: {epochs}; "
        f"wrote {path}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain", action="store_true", help="train even if the checkpoint exists")
    args = parser.parse_args(argv)
    os.chdir(ROOT)                      # EXPLAIN's params path is relative to the repository root
    from ssdref.explain import explain
    from ssdref.io.mxnet_params import checkpoint_params_path

    os.makedirs(FIGURES, exist_ok=True)
    if args.retrain or not os.path.isfile(checkpoint_params_path(PREFIX, TRAIN["epochs"])):
        train()
    report = explain(out=FIGURES, figures=True, **EXPLAIN)
    print(f"wrote {report.markdown} and {len(report.figures)} figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
