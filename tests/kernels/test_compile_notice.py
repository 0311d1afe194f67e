"""ssdref.kernels.compile_notice: one stderr line at the first compilation, none from the cache."""
import os
import subprocess
import sys

from ssdref.kernels.compile_notice import MESSAGE, is_ssdref_command

COMPILE_TWO_KERNELS = r"""
import numba
from ssdref.kernels.compile_notice import announce_compiling
announce_compiling()
announce_compiling()                      # installing twice still says it once

@numba.njit(cache=True)
def twice(x):
    return 2 * x

@numba.njit(cache=True)
def thrice(x):
    return 3 * x

print(twice(2), thrice(2.5))
"""


def run_python(code, cache_dir, tmp_path):
    script = tmp_path / "kernels_under_test.py"     # cache=True needs a file, not -c
    if not script.exists():                         # rewriting it would invalidate the cache
        script.write_text(code)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                          timeout=300, check=True)


def test_cold_cache_says_it_once_and_warm_cache_says_nothing(tmp_path):
    cold = run_python(COMPILE_TWO_KERNELS, tmp_path / "cache", tmp_path)
    assert cold.stdout.split() == ["4", "7.5"]
    assert cold.stderr.count(MESSAGE) == 1
    warm = run_python(COMPILE_TWO_KERNELS, tmp_path / "cache", tmp_path)
    assert warm.stdout.split() == ["4", "7.5"]
    assert MESSAGE not in warm.stderr


def test_only_the_ssdref_command_announces():
    assert is_ssdref_command("/venv/bin/ssdref", ["/venv/bin/python", "/venv/bin/ssdref", "demo"])
    assert is_ssdref_command("/repo/ssdref/__main__.py", ["python", "-m", "ssdref", "demo"])
    assert not is_ssdref_command("/venv/bin/pytest", ["python", "/venv/bin/pytest", "-m", "slow"])
    assert not is_ssdref_command("-c", ["python", "-c", "import ssdref"])
    assert not is_ssdref_command("script.py", ["python", "-m", "pytest", "ssdref"])
