"""The golden set holds under other machines' settings (the quick part of the emulation matrix,
`ssdref.golden.matrix`; `make test-matrix` runs all of it in CI): verify and regenerate in fresh
processes with NumPy's AVX-512 dispatch off, on one thread, without this machine's
OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, with OpenBLAS's AVX-512 kernels where the CPU has them, and
with glibc's non-FMA libm, and recomputed by the NumPy specification instead of the kernels."""
import io

import pytest

from ssdref.golden import matrix

QUICK = [c for c in matrix.CONFIGS
         if c.name in matrix.QUICK + ("openblas-skylakex", "glibc-no-fma", "numpy-spec")
         and c.name != "as-is"]


@pytest.mark.slow
@pytest.mark.parametrize("config", QUICK, ids=[c.name for c in QUICK])
def test_golden_set_verifies_and_regenerates_under(config):
    if config.needs_flag and config.needs_flag not in matrix.cpu_flags():
        pytest.skip(f"{config.name} needs the CPU flag {config.needs_flag}, which this CPU lacks")
    log = io.StringIO()
    result = matrix.run_config(config, matrix.ROOT / "golden", quick=True, tests=False, log=log)
    failed = {check: note for check, (ok, note) in result.items() if not ok}
    assert not failed, f"{config.name}: {failed}\n{log.getvalue()[-3000:]}"


def test_user_plain_configuration_drops_this_machines_openblas_variables(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "512")
    env = matrix.config_env(next(c for c in matrix.CONFIGS if c.name == "user-plain"))
    assert "OPENBLAS_CORETYPE" not in env and "OPENBLAS_L2_SIZE" not in env
    generic = matrix.config_env(next(c for c in matrix.CONFIGS if c.name == "numba-generic"),
                                {"NUMBA_CACHE_DIR": "/tmp/cache"})
    assert generic["NUMBA_CPU_NAME"] == "generic" and generic["NUMBA_CACHE_DIR"] == "/tmp/cache-numba-generic"
