"""OpDefs of ssdref.autograd.ops_nn: parameter parsing from JSON strings, infer_shape, forward/backward."""
import numpy as np
import pytest

from ssdref.autograd.registry import get_op
from ssdref.backend import use_backend


def _parse(name, **attrs):
    op = get_op(name)
    return op, op.parse_params(attrs)


def test_convolution_parses_json_strings_and_infers_weight_and_bias():
    op, p = _parse("Convolution", kernel="(3, 3)", pad="(6, 6)", dilate="(6, 6)", num_filter="1024",
                   workspace="256", cudnn_tune="fastest", cudnn_off="False", __lr_mult__="2")
    assert p["kernel"] == (3, 3) and p["num_filter"] == 1024 and p["no_bias"] is False
    assert op.inputs(p) == ("data", "weight", "bias")
    in_shapes, out = op.infer_shape([(1, 512, 19, 19), None, None], p)
    assert in_shapes == [(1, 512, 19, 19), (1024, 512, 3, 3), (1024,)]
    assert out == [(1, 1024, 19, 19)]


def test_convolution_no_bias_and_groups():
    op, p = _parse("Convolution", kernel=(3, 3), num_filter=8, num_group=2, no_bias="True", stride=(2, 2))
    assert op.inputs(p) == ("data", "weight")
    in_shapes, out = op.infer_shape([(2, 4, 9, 9), None], p)
    assert in_shapes[1] == (8, 2, 3, 3) and out == [(2, 8, 4, 4)]


@pytest.mark.parametrize("attrs,shapes,message", [
    (dict(kernel=(3, 3), num_filter=2), [(1, 1, 5, 5), (2, 1, 2, 2), None], "shape inconsistent"),
    (dict(kernel=(5, 5), num_filter=1), [(1, 1, 3, 3), None, None], "kernel size exceeds input"),
    (dict(kernel=(3, 3), num_filter=2, num_group=2), [(1, 3, 5, 5), None, None], "divisible by num_group"),
    (dict(kernel=(3, 3), num_filter=2, layout="NHWC"), [(1, 3, 5, 5), None, None], "layout"),
])
def test_convolution_infer_shape_errors(attrs, shapes, message):
    op, p = _parse("Convolution", **attrs)
    with pytest.raises(ValueError, match=message):
        op.infer_shape(shapes, p)


def test_convolution_kernel_is_required():
    with pytest.raises(ValueError, match="'kernel' is missing"):
        _parse("Convolution", num_filter=1)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_convolution_forward_backward_through_opdef(backend):
    op, p = _parse("Convolution", kernel="(3, 3)", pad="(1, 1)", num_filter="4")
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    with use_backend(backend):
        (y,), cache = op.forward([x, w, b], [], p, True)
        grads = op.backward([np.ones_like(y)], cache, p)
    assert y.shape == (2, 4, 5, 5) and len(grads) == 3
    np.testing.assert_allclose(grads[2], np.full(4, 50.0))
    assert op.backward([None], cache, p) == [None, None, None]


def test_pooling_hidden_outputs_follow_the_mkldnn_build():
    op, p = _parse("Pooling", kernel="(2, 2)", stride="(2, 2)", pool_type="max", pooling_convention="full")
    assert op.num_hidden_outputs(p) == 1
    assert op.infer_shape([(1, 256, 75, 75)], p)[1] == [(1, 256, 38, 38)]
    op, p = _parse("Pooling", kernel="(3, 3)", pool_type="avg", count_include_pad="None", p_value="None")
    assert op.num_hidden_outputs(p) == 0 and p["count_include_pad"] is None


def test_pooling_forward_through_opdef_and_errors():
    op, p = _parse("Pooling", global_pool="True", pool_type="avg", kernel="(1, 1)")
    (y,), cache = op.forward([np.arange(1.0, 26).reshape(1, 1, 5, 5)], [], p, False)
    assert y[0, 0, 0, 0] == 13
    np.testing.assert_allclose(op.backward([np.ones_like(y)], cache, p)[0], 0.04)
    with pytest.raises(ValueError, match="pool_type must be one of"):
        _parse("Pooling", kernel=(2, 2), pool_type="foo")
    op, p = _parse("Pooling", kernel=(2, 2), pooling_convention="same")
    with pytest.raises(ValueError, match="'same' is not supported"):
        op.infer_shape([(1, 1, 4, 4)], p)


def test_activation_opdef():
    op, p = _parse("Activation", act_type="relu")
    assert op.infer_shape([(2, 3)], p) == ([(2, 3)], [(2, 3)])
    (y,), cache = op.forward([np.array([-1.0, 2.0])], [], p, True)
    np.testing.assert_array_equal(y, [0, 2])
    np.testing.assert_array_equal(op.backward([np.ones(2)], cache, p)[0], [0, 1])
    with pytest.raises(ValueError, match="act_type"):
        _parse("Activation", act_type="gelu")


def test_batchnorm_opdef_aux_hidden_outputs_and_update_aux():
    op, p = _parse("BatchNorm", fix_gamma="False", eps="2e-05", momentum="0.9")
    assert op.inputs(p) == ("data", "gamma", "beta") and op.aux(p) == ("moving_mean", "moving_var")
    assert op.num_hidden_outputs(p) == 2 and op.outputs(p) == ("output",)
    in_shapes, out = op.infer_shape([(2, 3, 4, 4), None, None, None, None], p)
    assert in_shapes[1:] == [(3,)] * 4 and out == [(2, 3, 4, 4)]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 4))
    mm, mv = np.zeros(3), np.ones(3)
    (y,), cache = op.forward([x, np.ones(3), np.zeros(3)], [mm, mv], p, True)
    dx, dgamma, dbeta = op.backward([np.ones_like(y)], cache, p)
    new_mm, new_mv = op.update_aux(cache, [mm, mv], p)
    np.testing.assert_allclose(new_mm, 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(new_mv, 0.9 + 0.1 * x.var(axis=(0, 2, 3)))
    np.testing.assert_array_equal(mm, 0)  # aux arrays are returned anew, never mutated


def test_batchnorm_output_mean_var_shows_three_outputs():
    op, p = _parse("BatchNorm", output_mean_var="True", axis="-1")
    assert op.outputs(p) == ("output", "mean", "var") and op.num_hidden_outputs(p) == 0
    _, out = op.infer_shape([(2, 3, 5), None, None, None, None], p)
    assert out == [(2, 3, 5), (5,), (5,)]
    x = np.random.default_rng(1).standard_normal((2, 3, 5))
    outs, _ = op.forward([x, np.ones(5), np.zeros(5)], [np.zeros(5), np.ones(5)], p, True)
    assert len(outs) == 3
    with pytest.raises(ValueError, match="Channel axis out of range"):
        op.infer_shape([(2, 3), None, None, None, None], op.parse_params({"axis": "4"}))


def test_l2normalization_opdef():
    op, p = _parse("L2Normalization", mode="channel")
    assert p["eps"] == 1e-10 and op.num_hidden_outputs(p) == 1
    assert op.infer_shape([(1, 512, 38, 38)], p)[1] == [(1, 512, 38, 38)]
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        op.infer_shape([(1, 512)], p)
    (y,), cache = op.forward([np.zeros((1, 2, 1, 1))], [], p, True)
    np.testing.assert_allclose(op.backward([np.ones_like(y)], cache, p)[0], 1e5, rtol=1e-6)


def test_dropout_opdef_identity_at_inference():
    op, p = _parse("Dropout", p="0.5", axes="(1,)", mode="training")
    assert op.num_hidden_outputs(p) == 1 and p["axes"] == (1,)
    x = np.ones((2, 3, 4))
    (y,), cache = op.forward([x], [], p, False)
    np.testing.assert_array_equal(y, x)
    (y,), cache = op.forward([x], [], p, True)
    np.testing.assert_array_equal(op.backward([np.ones_like(x)], cache, p)[0], y)


def test_aliases_resolve():
    for name in ("Convolution", "Pooling", "Activation", "BatchNorm", "L2Normalization", "Dropout"):
        assert get_op(name).name == name


def test_imperative_convolution_names_data_rank_and_weight_like_infer_shape():
    import ssdref as mx
    weight, bias = np.zeros((4, 3, 3, 3), np.float32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"Convolution: data must have 4 dimensions \(batch, channels, "
                                         r"2 spatial\) for kernel \(3, 3\), got shape \(3, 5, 5\)"):
        mx.nd.Convolution(np.zeros((3, 5, 5), np.float32), weight, bias, num_filter=4, kernel=(3, 3))
    with pytest.raises(ValueError, match=r"Convolution: weight must have shape \(4, 3, 3, 3\) .*got "
                                         r"\(5, 3, 3, 3\)"):
        mx.nd.Convolution(np.zeros((1, 3, 5, 5), np.float32), np.zeros((5, 3, 3, 3), np.float32),
                          bias, num_filter=4, kernel=(3, 3))
