"""ssdref.io reads MXNet 1.9.1's own `.params` files exactly and writes the bytes MXNet writes."""
import json
import os
import struct

import numpy as np
import pytest

from ssdref.io import (dumps_ndarrays, load_ndarrays, load_params, loads_ndarrays, save_ndarrays,
                       save_params, split_params)

DATA = os.path.join(os.path.dirname(__file__), os.pardir, "data", "params")
with open(os.path.join(DATA, "expected.json")) as _f:
    EXPECTED = json.load(_f)["files"]
MXNET_FILES = sorted(k for k, v in EXPECTED.items() if v["form"] != "meta")


@pytest.fixture(scope="module")
def expected_arrays():
    with np.load(os.path.join(DATA, "expected.npz")) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.mark.parametrize("fname", MXNET_FILES)
def test_files_written_by_mxnet_load_with_identical_arrays(fname, expected_arrays):
    loaded = load_ndarrays(os.path.join(DATA, fname))
    meta = EXPECTED[fname]
    if meta["form"] == "dict":
        assert isinstance(loaded, dict)
        assert list(loaded) == meta["keys"]          # file order, as MXNet returns it
        items = list(loaded.items())
    else:
        assert isinstance(loaded, list)
        items = [(str(i), a) for i, a in enumerate(loaded)]
        assert [k for k, _ in items] == meta["keys"]
    for (key, array), dtype in zip(items, meta["dtypes"]):
        want = expected_arrays[f"{fname}/{key}"]
        assert array.dtype == np.dtype(dtype) == want.dtype
        assert array.shape == want.shape
        np.testing.assert_array_equal(array, want)
        assert array.tobytes() == want.tobytes()      # bit for bit, NaN payloads and -0.0 included


def test_every_dtype_mxnet_writes_round_trips_to_the_same_bytes():
    original = open(os.path.join(DATA, "dtypes_dict.params"), "rb").read()
    assert dumps_ndarrays(loads_ndarrays(original)) == original
    original = open(os.path.join(DATA, "dtypes_list.params"), "rb").read()
    assert dumps_ndarrays(loads_ndarrays(original)) == original
    assert EXPECTED["_dtypes_mxnet_makes"]["keys"] == [
        "float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool"]


def test_checkpoint_written_by_mxnet_splits_into_arg_and_aux_in_file_order(expected_arrays):
    arg_params, aux_params = load_params(os.path.join(DATA, "tiny-0003.params"))
    assert list(arg_params) == ["zc_weight", "zc_bias", "abn_gamma", "abn_beta", "fc_weight", "fc_bias"]
    assert list(aux_params) == ["abn_moving_mean", "abn_moving_var"]
    np.testing.assert_array_equal(arg_params["fc_weight"], expected_arrays["tiny-0003.params/arg:fc_weight"])


def test_save_params_rewrites_an_mxnet_checkpoint_byte_for_byte(tmp_path):
    src = os.path.join(DATA, "tiny-0003.params")
    arg_params, aux_params = load_params(src)
    out = tmp_path / "copy-0003.params"
    save_params(out, arg_params, aux_params)
    assert out.read_bytes() == open(src, "rb").read()


@pytest.mark.parametrize("fname", ["shapes.params", "single.params", "empty.params"])
def test_save_ndarrays_reproduces_mxnet_bytes(fname, tmp_path):
    original = open(os.path.join(DATA, fname), "rb").read()
    out = tmp_path / fname
    save_ndarrays(out, load_ndarrays(os.path.join(DATA, fname)))
    assert out.read_bytes() == original


def test_worked_hexdump_of_the_spec_is_reproduced():
    data = {"arg:w": np.arange(6, dtype=np.float32).reshape(2, 3), "aux:m": np.array([1.5])}
    blob = dumps_ndarrays(data)
    assert len(blob) == 0xA2
    assert blob[:24] == struct.pack("<QQQ", 0x112, 0, 2)
    assert blob[0x18:0x1C] == bytes.fromhex("c9fa93f9")
    assert blob[0x80:0x88] == struct.pack("<Q", 2)
    assert blob[0x88:] == struct.pack("<Q", 5) + b"arg:w" + struct.pack("<Q", 5) + b"aux:m"


def test_empty_dict_and_empty_list_give_the_same_32_byte_file_that_loads_as_a_list():
    assert dumps_ndarrays({}) == dumps_ndarrays([]) == struct.pack("<QQQQ", 0x112, 0, 0, 0)
    assert loads_ndarrays(dumps_ndarrays({})) == []


def test_single_array_is_saved_as_a_one_element_list():
    a = np.arange(3, dtype=np.int64)
    assert dumps_ndarrays(a) == dumps_ndarrays([a])
    (back,) = loads_ndarrays(dumps_ndarrays(a))
    np.testing.assert_array_equal(back, a)


def test_legacy_v1_and_pre_v1_records_and_gpu_context_load_on_cpu(expected_arrays):
    loaded = load_ndarrays(os.path.join(DATA, "legacy_v1.params"))
    np.testing.assert_array_equal(loaded["arg:a"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert loaded["aux:b"].dtype == np.float64
    listed = load_ndarrays(os.path.join(DATA, "legacy_prev1.params"))
    assert listed[1].dtype == np.int32 and listed[1].shape == (1, 4)
    on_gpu = load_ndarrays(os.path.join(DATA, "gpu_ctx.params"))["arg:on_gpu"]
    np.testing.assert_array_equal(on_gpu, expected_arrays["gpu_ctx.params/arg:on_gpu"])


def test_v3_numpy_shape_records_keep_scalars_and_zero_size_dims():
    loaded = load_ndarrays(os.path.join(DATA, "v3_np_shape.params"))
    assert loaded["scalar"].shape == () and loaded["scalar"] == np.float32(3.5)
    assert loaded["zero_size"].shape == (2, 0, 3)


def test_non_contiguous_big_endian_and_read_only_inputs_save_like_a_copy():
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    view = base[:, ::2]
    big = view.astype(">f8")
    frozen = view.copy()
    frozen.flags.writeable = False
    want = dumps_ndarrays([np.ascontiguousarray(view)])
    assert dumps_ndarrays([view]) == dumps_ndarrays([big]) == dumps_ndarrays([frozen]) == want
    assert base[0, 1] == 1.0                     # input untouched


def test_loaded_arrays_are_writable_copies_in_native_byte_order():
    (a,) = loads_ndarrays(dumps_ndarrays([np.ones((2, 2), np.float32)]))
    assert a.flags.writeable and a.flags.c_contiguous and a.dtype.isnative
    a += 1.0


def test_bad_magic_truncation_and_name_count_fail_clearly():
    good = dumps_ndarrays({"arg:w": np.ones(3, np.float32)})
    with pytest.raises(ValueError, match="list magic 0x112"):
        loads_ndarrays(b"\x13" + good[1:])
    with pytest.raises(ValueError, match="truncated"):
        loads_ndarrays(good[:-3])
    bad_names = good[:0x18 + 0] + good[0x18:]
    bad_names = bad_names.replace(struct.pack("<Q", 1) + struct.pack("<Q", 5), struct.pack("<Q", 2) +
                                  struct.pack("<Q", 5), 1)
    with pytest.raises(ValueError, match="0 or 1 names"):
        loads_ndarrays(bad_names)
    with pytest.raises(ValueError, match="trailing bytes"):
        loads_ndarrays(good + b"\x00")


def test_none_record_sparse_storage_and_bfloat16_are_rejected_by_name():
    head = struct.pack("<QQQ", 0x112, 0, 1)
    none_record = struct.pack("<Iii", 0xF993FAC9, 0, 0)
    with pytest.raises(ValueError, match="none"):
        loads_ndarrays(head + none_record + struct.pack("<Q", 0))
    sparse = struct.pack("<Ii", 0xF993FAC9, 1)
    with pytest.raises(ValueError, match="storage type 1"):
        loads_ndarrays(head + sparse + b"\x00" * 64)
    bf16 = struct.pack("<Iiiq", 0xF993FAC9, 0, 1, 1) + struct.pack("<iii", 1, 0, 12) + b"\x00\x00"
    with pytest.raises(ValueError, match="bfloat16"):
        loads_ndarrays(head + bf16 + struct.pack("<Q", 0))


def test_writer_refuses_what_mxnet_cannot_load():
    with pytest.raises(TypeError, match="int16"):
        dumps_ndarrays([np.ones(2, np.int16)])
    with pytest.raises(TypeError, match="complex128"):
        dumps_ndarrays([np.ones(2, np.complex128)])
    with pytest.raises(ValueError, match="at least 1 dimension"):
        dumps_ndarrays([np.float32(1.0)])
    with pytest.raises(TypeError, match="keys must be str"):
        dumps_ndarrays({1: np.ones(2)})
    with pytest.raises(TypeError, match="numpy array"):
        dumps_ndarrays({"a": "text"})


def test_checkpoint_split_ignores_other_prefixes_and_rejects_keys_without_colon():
    arg, aux = split_params({"arg:a": 1, "aux:b:c": 2, "opt:s": 3})
    assert arg == {"a": 1} and aux == {"b:c": 2}
    with pytest.raises(ValueError, match="'arg:name'"):
        split_params({"weight": 1})
    with pytest.raises(ValueError, match="list form"):
        split_params([np.ones(1)])


def test_empty_params_file_loads_as_two_empty_dicts():
    assert load_params(os.path.join(DATA, "empty.params")) == ({}, {})


def test_dims_whose_product_overflows_int64_are_reported_as_not_fitting_the_file():
    head = struct.pack("<QQQ", 0x112, 0, 1)
    record = struct.pack("<Iiiqq", 0xF993FAC9, 0, 2, 2**40, 2**40) + struct.pack("<iii", 1, 0, 0)
    with pytest.raises(ValueError, match=r"array 0 must fit in the file: shape \(1099511627776, "
                                         r"1099511627776\) of float32 needs 4835703278458516698824704 "
                                         r"bytes of data, got 12 bytes left"):
        loads_ndarrays(head + record + b"\x00" * 4 + struct.pack("<Q", 0))


def test_a_huge_array_count_is_reported_as_the_count_not_as_a_record_problem():
    good = dumps_ndarrays({"arg:w": np.ones(3, np.float32)})
    huge = good[:16] + struct.pack("<Q", 2**62) + good[24:]
    with pytest.raises(ValueError, match=r"the array count must fit in the file .* got "
                                         r"4611686018427387904"):
        loads_ndarrays(huge)
    two = dumps_ndarrays([np.ones(3, np.float32), np.ones(2, np.float32)])
    three = two[:16] + struct.pack("<Q", 3) + two[24:] + b"\x00" * 40
    with pytest.raises(ValueError, match=r"\(array 2 of the 3 the file's header declares\)"):
        loads_ndarrays(three)


def test_a_name_that_is_not_utf8_is_a_value_error_naming_the_file():
    good = dumps_ndarrays({"arg:w": np.ones(3, np.float32)})
    with pytest.raises(ValueError, match=r"buffer: name 0 must be UTF-8 text"):
        loads_ndarrays(good.replace(b"arg:w", b"arg:\xff"))


def test_zero_size_array_with_absurd_other_dims_is_a_clear_error():
    head = struct.pack("<QQQ", 0x112, 0, 1)
    record = struct.pack("<Iiiqqq", 0xF993FAC9, 0, 3, 2**32, 2**40, 0) + struct.pack("<iii", 1, 0, 0)
    with pytest.raises(ValueError, match=r"array 0 must have dims whose product fits in int64 "
                                         r"\(zero dims aside\), got shape \(4294967296, 1099511627776, 0\)"):
        loads_ndarrays(head + record + struct.pack("<Q", 0))
