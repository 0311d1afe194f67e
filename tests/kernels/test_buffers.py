"""The Numba backend's buffer pool: reuse only of unreferenced blocks, bounded idle memory."""
import os

import numpy as np
import pytest

from ssdref.kernels import buffers
from ssdref.kernels.buffers import BufferPool

MB = 1 << 20


def test_small_requests_are_plain_arrays():
    pool = BufferPool(64 * MB)
    a = pool.empty((10, 10), np.float32)
    assert a.shape == (10, 10) and a.dtype == np.float32 and pool.held_bytes() == 0


def test_a_block_is_reused_only_after_every_view_is_gone():
    pool = BufferPool(64 * MB)
    a = pool.empty((MB,), np.float32)                  # 4 MB
    address = a.ctypes.data
    view = a.reshape(1024, 1024)[::2]
    del a
    b = pool.empty((MB,), np.float32)                  # the view still holds the first block
    assert b.ctypes.data != address
    del view
    c = pool.empty((1024, 1024), np.float32)
    assert c.ctypes.data == address and c.flags.c_contiguous and c.shape == (1024, 1024)
    assert pool.hits == 1 and pool.misses == 2


def test_reuse_needs_a_close_size_and_keeps_dtype_and_shape():
    pool = BufferPool(64 * MB)
    a = pool.empty((2 * MB,), np.uint8)
    address = a.ctypes.data
    del a
    small = pool.empty((MB // 8,), np.float64)         # 1 MB: a 2 MB block has too much slack
    assert small.ctypes.data != address
    near = pool.empty((int(1.7 * MB) // 8,), np.float64)
    assert near.ctypes.data == address and near.dtype == np.float64


def test_idle_memory_is_bounded():
    pool = BufferPool(8 * MB)
    arrays = [pool.empty((3 * MB,), np.uint8) for _ in range(4)]     # 12 MB live
    assert pool.held_bytes() == 12 * MB
    del arrays
    pool.empty((5 * MB,), np.uint8)                    # no fit: idle 12 MB + 5 MB is trimmed first
    assert pool.held_bytes() <= 8 * MB + 5 * MB
    assert pool.idle_bytes() <= 8 * MB


def test_disabled_pool_and_env_validation(monkeypatch):
    pool = BufferPool(0)
    pool.empty((4 * MB,), np.uint8)
    assert pool.held_bytes() == 0
    monkeypatch.setenv("SSDREF_POOL_IDLE_MB", "lots")
    with pytest.raises(ValueError, match="SSDREF_POOL_IDLE_MB"):
        buffers._idle_limit_from_env()
    monkeypatch.setenv("SSDREF_POOL_IDLE_MB", "-1")
    with pytest.raises(ValueError, match=">= 0"):
        buffers._idle_limit_from_env()


def test_default_idle_limit_is_an_eighth_of_memory_capped(monkeypatch):
    monkeypatch.delenv("SSDREF_POOL_IDLE_MB", raising=False)
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    want = min(buffers.DEFAULT_IDLE_MB_CAP, physical / 8 / 2**20)
    assert buffers.default_idle_mb() == want
    assert buffers._idle_limit_from_env() == int(want * 2**20)
    monkeypatch.setenv("SSDREF_POOL_IDLE_MB", "100")
    assert buffers._idle_limit_from_env() == 100 * 2**20
    monkeypatch.setattr(buffers.os, "sysconf", lambda name: (_ for _ in ()).throw(ValueError(name)))
    assert buffers.default_idle_mb() == 256.0


def test_kernel_outputs_from_the_pool_are_independent_arrays():
    """Two relu outputs alive at once never share a block; results equal the NumPy spec."""
    from ssdref.kernels.cpu_activation import activation_forward
    from ssdref.layers.activation import activation_forward as spec_forward
    rng = np.random.default_rng(0)
    x1 = rng.standard_normal((1, 8, 256, 256), dtype=np.float32)
    x2 = rng.standard_normal((1, 8, 256, 256), dtype=np.float32)
    y1, _ = activation_forward(x1, act_type="relu")
    y2, _ = activation_forward(x2, act_type="relu")
    assert not np.shares_memory(y1, y2)
    np.testing.assert_array_equal(y1, spec_forward(x1, act_type="relu")[0])
    np.testing.assert_array_equal(y2, spec_forward(x2, act_type="relu")[0])
