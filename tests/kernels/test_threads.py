"""ssdref.kernels.threads: idle pool threads sleep, and the user's environment is left as it was.

Each case runs in a fresh interpreter: libgomp and OpenBLAS read their settings once per process.
"""
import json
import os
import subprocess
import sys

import pytest

PROBE = r"""
import json, os
before = dict(os.environ)
import numpy
import ssdref.kernels
from ssdref.kernels import threads
env_unchanged = dict(os.environ) == before
info = threads.describe()
timeouts = [lib.openblas_thread_timeout() for _, lib in threads.openblas_libraries()
            if hasattr(lib, "openblas_thread_timeout")]
print(json.dumps({"env_unchanged": env_unchanged, "status": threads.STATUS,
                  "layer": info["numba_threading_layer"], "timeouts": timeouts,
                  "wait_policy": os.environ.get("OMP_WAIT_POLICY")}))
"""

THREAD_KNOBS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT",
                "SSDREF_THREAD_TUNING", "NUMBA_THREADING_LAYER", "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


FORK_THEN_RELU = r"""
import multiprocessing, numpy as np
import ssdref.kernels
from ssdref.backend import dispatch
from ssdref.layers.activation import activation_forward

def child(queue):
    y, _ = dispatch(activation_forward)(np.ones((2, 8, 16, 16), np.float32), act_type="relu")
    queue.put(float(y.sum()))

if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    process = ctx.Process(target=child, args=(queue,))
    process.start()
    process.join(120)
    print(process.exitcode, queue.get(timeout=5) if process.exitcode == 0 else None)
"""


def probe(**env):
    clean = {k: v for k, v in os.environ.items() if k not in THREAD_KNOBS}
    # two threads in each pool, so that the OpenBLAS step has a pool to act on on any machine
    clean.update(OPENBLAS_NUM_THREADS="2", NUMBA_NUM_THREADS="2", **env)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=clean,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_plain_process_gets_sleeping_pools_and_an_unchanged_environment():
    result, stderr = probe(OMP_DISPLAY_ENV="TRUE")     # libgomp prints its settings as it loads
    assert result["env_unchanged"]
    assert result["wait_policy"] is None
    assert result["status"]["numba_pool"] == "applied"
    if result["layer"] == "omp":
        assert "OMP_WAIT_POLICY = 'PASSIVE'" in stderr
    if result["timeouts"]:                      # NumPy's OpenBLAS: short idle spin, read back
        assert result["status"]["openblas"] == "applied"
        assert result["timeouts"] == [4] * len(result["timeouts"])


def test_user_settings_win():
    result, _ = probe(OMP_WAIT_POLICY="ACTIVE", OPENBLAS_THREAD_TIMEOUT="10")
    assert result["status"]["numba_pool"] == "skipped: the user set OMP_WAIT_POLICY"
    assert result["status"]["openblas"] == "skipped: the user set OPENBLAS_THREAD_TIMEOUT"
    assert result["wait_policy"] == "ACTIVE"
    assert result["timeouts"] == [10] * len(result["timeouts"])


@pytest.mark.parametrize("value", ["0", "off"])
def test_off_switch_leaves_both_pools_as_shipped(value):
    result, _ = probe(SSDREF_THREAD_TUNING=value)
    assert set(result["status"].values()) == {"skipped: SSDREF_THREAD_TUNING=0"}
    assert result["timeouts"] == [0] * len(result["timeouts"])     # 0: OpenBLAS's built-in 2**28


def test_the_pool_is_not_started_at_import_so_forked_children_can_run_kernels(tmp_path):
    # libgomp is not fork-safe: Numba terminates a forked child that uses a pool its parent started
    script = tmp_path / "fork_then_relu.py"
    script.write_text(FORK_THEN_RELU)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if k not in THREAD_KNOBS})
    assert out.stdout.split() == ["0", str(float(2 * 8 * 16 * 16))], out.stderr
