"""Make the tutorial's figures (docs/figures/*.png, explain.md) and the small trained SSD they show.

    .venv/bin/python docs/make_figures.py            # reuse docs/figures/tiny-NNNN.params if present
    .venv/bin/python docs/make_figures.py --retrain  # train it again first (several minutes on 2 cores)

Deterministic: training is ssdref.train.train_ssd with a fixed seed (sequential float32 NumPy/Numba,
bit-identical on rerun), the checkpoint is written in MXNet's .params format, and the figures are
`ssdref.explain.explain(**EXPLAIN, figures=True)`, the very call docs/tutorial.md makes (with
figures=False), drawn by matplotlib's Agg canvas without a timestamp.
"""
import argparse
import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
FIGURES = os.path.join(DOCS, "figures")
PREFIX = os.path.join(FIGURES, "tiny")
TRAIN = dict(network="tiny", data_shape=64, num_classes=3, epochs=2, seed=0)
EXPLAIN = dict(image_index=3, seed=0, params="docs/figures/tiny", epoch=TRAIN["epochs"])


def train(log=print):
    """Train the tutorial's tiny SSD and save docs/figures/tiny-%04d.params (arg: and aux: arrays)."""
    from ssdref.io.mxnet_params import checkpoint_params_path, save_params
    from ssdref.train import train_ssd

    result = train_ssd(progress=True, **TRAIN)
    path = checkpoint_params_path(PREFIX, TRAIN["epochs"])
    save_params(path, result.arg_params, result.aux_params)
    log(f"epoch losses: CrossEntropy {result.history['epoch_cross_entropy']}, "
        f"SmoothL1 {result.history['epoch_smooth_l1']}; wrote {path}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrain", action="store_true", help="train even if the checkpoint exists")
    args = parser.parse_args(argv)
    os.chdir(ROOT)                      # EXPLAIN's params path is relative to the repository root
    sys.path.insert(0, ROOT)
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
