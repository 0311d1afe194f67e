"""Record NumPy 1.23.5's `argsort()` (quicksort) orders for tests/eval (run in .venv-mxnet):

    .venv-mxnet/bin/python tests/eval/data/make_argsort_cases.py

Tie-heavy, sorted, reversed, constant, float32, NaN-bearing and median-of-3-adversarial inputs, so
ssdref.eval.legacy_sort reproduces the tie order example/ssd's MApMetric sees under MXNet 1.9.1.
"""
import os

import numpy as np

assert np.__version__ == "1.23.5", np.__version__
HERE = os.path.dirname(os.path.abspath(__file__))


def musser_killer(n):
    k = n // 2
    a = np.zeros(n)
    for i in range(1, k + 1):
        if i % 2:
            a[i - 1] = i
            a[i] = k + i
        a[k + i - 1] = 2 * i
    return a


def main():
    rng = np.random.default_rng(1235)
    cases = []
    for n in (1, 2, 3, 5, 15, 16, 17, 18, 31, 33, 64, 100, 257, 1000):
        cases.append(rng.integers(0, 3, n).astype(np.float64))          # heavy ties
        cases.append(rng.integers(0, max(2, n // 4), n).astype(np.float32))
        cases.append(np.round(rng.random(n), 2))
    for n in (16, 17, 40, 500):
        cases += [np.zeros(n), np.arange(n, dtype=np.float64), np.arange(n, 0, -1).astype(np.float64)]
    cases.append(np.concatenate([np.arange(50), np.arange(50)[::-1]]).astype(np.float64))   # organ pipe
    cases.append(np.where(rng.random(60) < 0.2, np.nan, rng.integers(0, 4, 60)).astype(np.float64))
    for n in (64, 256, 1024):
        cases.append(musser_killer(n))
    out = {}
    for i, values in enumerate(cases):
        out[f"values_{i:03d}"] = values
        out[f"order_{i:03d}"] = values.argsort()
    np.savez_compressed(os.path.join(HERE, "argsort_numpy1235.npz"), **out)
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
