"""Symbol JSON: MXNet 1.9.1's writer byte for byte (spec mxnet-graph-formats.md §4), and loading."""
import json
import os

import pytest

import graph_toy_ops
from ssdref import sym
from ssdref.autograd.naming import NameManager
from ssdref.autograd.symbol import create_op

DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture(autouse=True)
def fresh_names():
    with NameManager():
        yield


def _spec_example_text():
    with open(os.path.join(DATA, "spec_4_2_softmax.json"), encoding="utf-8") as handle:
        return handle.read()


def test_writer_matches_the_spec_example_byte_for_byte_with_standin_ops():
    data = sym.Variable("data")
    conv = create_op(graph_toy_ops.STANDIN_CONVOLUTION, "convolution", [data],
                     dict(kernel=(3, 3), pad=(1, 1), num_filter=4), name="conv1")
    relu = create_op(graph_toy_ops.STANDIN_ACTIVATION, "activation", [conv], dict(act_type="relu"),
                     name="relu1")
    out = create_op(graph_toy_ops.STANDIN_SOFTMAX_OUTPUT, "softmaxoutput", [relu],
                    dict(multi_output=True, use_ignore=True, ignore_label=-1, normalization="valid",
                         grad_scale=0.5), name="softmax")
    assert out.tojson() == _spec_example_text()


def test_writer_matches_the_spec_example_with_the_real_ops():
    data = sym.Variable("data")
    conv = sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=4, name="conv1")
    relu = sym.Activation(conv, act_type="relu", name="relu1")
    out = sym.SoftmaxOutput(relu, multi_output=True, use_ignore=True, ignore_label=-1,
                            normalization="valid", grad_scale=0.5, name="softmax")
    text = out.tojson()
    assert text == _spec_example_text()
    assert sym.load_json(text).tojson() == text


def test_spec_example_loads_and_round_trips():
    text = _spec_example_text()
    loaded = sym.load_json(text)
    assert loaded.list_arguments() == ["data", "conv1_weight", "conv1_bias", "softmax_label"]
    assert loaded.tojson() == text


def test_aux_inputs_have_version_one_and_hidden_outputs_count_in_row_ptr():
    bn = sym._test_BN(sym.Variable("x"), name="bn")
    sp = sym._test_split2(bn, name="sp")
    doc = json.loads(sp.tojson())
    bn_node = doc["nodes"][5]
    assert bn_node["inputs"] == [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 1], [4, 0, 1]]
    assert doc["arg_nodes"] == [0, 1, 2, 3, 4]
    # variables 1 each, _test_bn 1 + 2 hidden, _test_split2 2 + 1 hidden
    assert doc["node_row_ptr"] == [0, 1, 2, 3, 4, 5, 8, 11]
    assert doc["heads"] == [[6, 0, 0], [6, 1, 0]]
    assert sym.load_json(sp.tojson()).tojson() == sp.tojson()


def test_arrays_longer_than_ten_go_one_item_per_line():
    inputs = [sym.Variable(f"v{i}") for i in range(11)]
    text = sym._test_Cat(*inputs, name="cat").tojson()
    assert '"inputs": [\n        [0, 0, 0], \n        [1, 0, 0], ' in text
    assert '[10, 0, 0]\n      ]\n' in text
    assert '"arg_nodes": [\n    0, \n    1, ' in text
    assert '"heads": [[11, 0, 0]], ' in text
    ten = sym._test_Cat(*inputs[:10], name="cat10").tojson()
    assert '"arg_nodes": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], ' in ten


def test_quotes_are_escaped_and_there_is_no_final_newline():
    text = sym.Variable("s", init='["constant", {"value": 20}]', shape=(1, 2)).tojson()
    assert '"__init__": "[\\"constant\\", {\\"value\\": 20}]", ' in text
    assert text.endswith("}") and not text.endswith("\n")
    assert sym.load_json(text).attr("__init__") == '["constant", {"value": 20}]'


def test_save_and_load_file(tmp_path):
    out = sym._test_FC(sym.Variable("x"), num_hidden=3, name="fc", attr={"lr_mult": "2"})
    path = tmp_path / "net-symbol.json"
    out.save(str(path))
    assert path.read_text() == out.tojson()
    again = sym.load(str(path))
    assert again.list_arguments() == out.list_arguments()
    assert again.attr_dict()["fc_bias"]["lr_mult"] == "2"


def test_missing_fields_are_reported():
    doc = json.loads(sym.Variable("x").tojson())
    for field in ("arg_nodes", "heads"):
        broken = {k: v for k, v in doc.items() if k != field}
        with pytest.raises(ValueError, match=f'Missing field "{field}"'):
            sym.load_json(json.dumps(broken))
    no_row_ptr = {k: v for k, v in doc.items() if k != "node_row_ptr"}
    assert sym.load_json(json.dumps(no_row_ptr)).tojson() == sym.Variable("x").tojson()


def test_legacy_json_with_param_attr_and_pair_inputs_is_upgraded():
    legacy = {
        "nodes": [
            {"op": "null", "name": "data", "param": {}, "inputs": [], "backward_source_id": -1},
            {"op": "null", "name": "fc_weight", "param": {}, "attr": {"lr_mult": "2"}, "inputs": [],
             "backward_source_id": -1},
            {"op": "_test_fc", "name": "fc", "param": {"num_hidden": "3", "no_bias": "True"},
             "inputs": [[0, 0], [1, 0]], "backward_source_id": -1},
            {"op": "_test_bn", "name": "bn", "param": {"momentum": "0.9"}, "inputs": [[2, 0]],
             "backward_source_id": -1},
        ],
        "arg_nodes": [0, 1],
        "heads": [[3, 0]],
    }
    loaded = sym.load_json(json.dumps(legacy))
    assert loaded.list_arguments() == ["data", "fc_weight", "bn_gamma", "bn_beta"]
    assert loaded.list_auxiliary_states() == ["bn_moving_mean", "bn_moving_var"]
    attrs = loaded.attr_dict()
    assert attrs["fc_weight"]["__lr_mult__"] == "2"
    assert attrs["bn_moving_mean"]["__init__"] == '["zero", {}]'
    assert attrs["bn_moving_var"]["__init__"] == '["one", {}]'
    resaved = json.loads(loaded.tojson())
    assert resaved["attrs"] == {"mxnet_version": ["int", 10901]}
    # MXNet re-saves the aux states the upgrade added with version 0 (spec §4.4).
    assert resaved["nodes"][-1]["inputs"] == [[2, 0, 0], [3, 0, 0], [4, 0, 0], [5, 0, 0], [6, 0, 0]]


# ---- against JSON written by real MXNet 1.9.1 (tests/data/mxnet_graphs, see its make_*.py) ----
MXNET_DATA = os.path.normpath(os.path.join(os.path.dirname(DATA), "..", "data", "mxnet_graphs"))
MXNET_GRAPHS = ["arithmetic", "small_convnet", "ssd300_train", "ssd300_test", "tiny_train", "tiny_test"]


def _mxnet_json(name):
    if not os.path.isdir(MXNET_DATA):
        pytest.skip(f"the MXNet-written test data folder {MXNET_DATA} is absent")
    with open(os.path.join(MXNET_DATA, name + ".json"), encoding="utf-8") as handle:
        return handle.read()


def _skip_without(op_name):
    from ssdref.autograd import registry
    if op_name not in registry.all_ops():
        pytest.skip(f"op {op_name} is not registered yet (ssdref/autograd/ops_nn.py)")


@pytest.mark.parametrize("name", MXNET_GRAPHS)
def test_mxnet_written_json_loads_and_is_rewritten_byte_for_byte(name):
    if name == "small_convnet":
        _skip_without("FullyConnected")
    text = _mxnet_json(name)
    assert sym.load_json(text).tojson() == text


def _mxnet_arithmetic():
    """The graph make_mxnet_data.arithmetic() built on MXNet, built here with the same calls."""
    a = sym.Variable("a", shape=(2, 3))
    b = sym.Variable("b", shape=(2, 3), dtype="float32")
    c = a * (b - a) + 2
    d = -(c / 4.0) - 1
    e = 1 - sym.broadcast_mul(lhs=a, rhs=sym.Variable("s", shape=(1, 3)))
    return sym.Group([c, d, e, sym.BlockGrad(d * e)])


def test_arithmetic_graph_matches_mxnet_json_names_and_shapes():
    out = _mxnet_arithmetic()
    assert out.tojson() == _mxnet_json("arithmetic")
    with open(os.path.join(MXNET_DATA, "mxnet_graphs.json"), encoding="utf-8") as handle:
        expected = json.load(handle)["graphs"]["arithmetic"]
    assert out.list_outputs() == expected["list_outputs"]
    assert out.get_internals().list_outputs() == expected["internals"]
    arg_shapes, out_shapes, _ = out.infer_shape()
    assert dict(zip(out.list_arguments(), map(list, arg_shapes))) == expected["arg_shapes"]
    assert dict(zip(out.list_outputs(), map(list, out_shapes))) == expected["out_shapes"]
    assert {k: out.attr_dict()[k] for k in expected["attr_dict"]} == expected["attr_dict"]


def test_small_convnet_matches_mxnet_json():
    _skip_without("FullyConnected")
    from ssdref import init
    data = sym.Variable("data")
    bias = sym.Variable("conv0_bias", init=init.Constant(0.0), lr_mult=2.0, wd_mult=0.0,
                        attr={"__mine__": "yes"})
    net = sym.Convolution(data=data, bias=bias, kernel=(3, 3), pad=(1, 1), num_filter=4, name="conv0")
    net = sym.BatchNorm(data=net, name="bn0")
    net = sym.Activation(data=net, act_type="relu")
    net = sym.Pooling(data=net, pool_type="max", kernel=(2, 2), stride=(2, 2), pooling_convention="full")
    net = sym.Flatten(data=net)
    net = sym.FullyConnected(data=net, num_hidden=3, name="fc")
    out = sym.SoftmaxOutput(data=net, name="softmax")
    assert out.tojson() == _mxnet_json("small_convnet")


# ---- malformed documents: a ValueError/TypeError naming the field, never an internal exception ----
def _conv_relu_doc():
    conv = sym.Convolution(sym.Variable("data"), num_filter=2, kernel=(3, 3), name="conv")
    return json.loads(sym.Activation(conv, act_type="relu", name="relu").tojson())


def _broken(edit):
    doc = _conv_relu_doc()
    edit(doc)
    return json.dumps(doc)


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(heads=[[99, 0, 0]]), r"heads\[0\] must be a node id in 0\.\.4, got 99"),
    (lambda d: d.update(heads=[[-3, 0, 0]]), r"heads\[0\] must be a node id in 0\.\.4, got -3"),
    (lambda d: d.update(heads=[[4, 5, 0]]), r"heads\[0\] \(output index of node 'relu'\) must be "
                                            r"in 0\.\.0: the node has 1 output"),
    (lambda d: d.update(heads=[]), r"heads must be a non-empty list"),
    (lambda d: d["nodes"][3].update(inputs=[[0]]), r"nodes\[3\] \('conv'\) inputs\[0\] must be "
                                                   r"\[node id, output index, version\]"),
    (lambda d: d["nodes"][3].update(inputs=[[3, 5, 0]]),
     r"nodes\[3\] \('conv'\) inputs\[0\] must be a node id in 0\.\.2 \(a node before it\), got 3"),
    (lambda d: d["nodes"][3].update(inputs=[[2, 5, 0]]), r".*output index of node 'conv_bias'\) "
                                                         r"must be in 0\.\.0.*got 5"),
    (lambda d: d["nodes"][3].update(inputs=[["a", 0, 0]]), r".*inputs\[0\] must be \[node id"),
    (lambda d: d["nodes"][3].update(inputs=[[True, 0, 0]]), r".*inputs\[0\] must be \[node id"),
    (lambda d: d["nodes"][1].pop("op"), r'nodes\[1\] must be an object with a "op" field'),
    (lambda d: d["nodes"][1].pop("name"), r'nodes\[1\] must be an object with a "name" field'),
    (lambda d: d["nodes"][3].update(op=3), r'nodes\[3\]\["op"\] must be a string, got 3'),
    (lambda d: d["nodes"][3].update(op="Foo"), r"nodes\[3\] \('conv'\): unknown operator 'Foo'"),
    (lambda d: d["nodes"].__setitem__(1, 5), r"nodes\[1\] must be an object, got 'int'"),
    (lambda d: d["nodes"][3].update(inputs=None), r'nodes\[3\]\["inputs"\] \(\'conv\'\) must be a list'),
    (lambda d: d["nodes"][3].update(attrs=[1, 2]), r'nodes\[3\]\["attrs"\] \(\'conv\'\) must be an object'),
    (lambda d: d["nodes"][3].update(attrs="x"), r'nodes\[3\]\["attrs"\] \(\'conv\'\) must be an object'),
    (lambda d: d.update(nodes=5), r"nodes must be a list, got 5"),
    (lambda d: d.update(heads=None), r"heads must be a list, got None"),
    (lambda d: d.update(attrs=5), r"attrs must be an object, got 5"),
    (lambda d: d["nodes"][2].update(name="data"), r"nodes\[2\] name must be unique among variables "
                                                  r"\(nodes\[0\] is also named so\)"),
])
def test_malformed_json_is_a_clear_error_naming_the_field(edit, match):
    with pytest.raises((ValueError, TypeError), match="^load_json: " + match):
        sym.load_json(_broken(edit))


def test_deeply_nested_json_is_a_value_error_not_a_recursion_error():
    with pytest.raises(ValueError, match="load_json: .*nested too deeply"):
        sym.load_json("[" * 100000 + "]" * 100000)


def test_json_that_is_not_a_graph_object_is_a_value_error():
    with pytest.raises(ValueError, match='load_json: the symbol JSON must be an object with "nodes"'):
        sym.load_json("[1, 2]")
    with pytest.raises(ValueError, match="load_json: the symbol JSON must be valid JSON"):
        sym.load_json("{")


def test_load_names_the_file_of_undecodable_or_invalid_json(tmp_path):
    binary = tmp_path / "binary-symbol.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match=f"{binary}: load_json: the symbol JSON must be UTF-8"):
        sym.load(str(binary))
    broken = tmp_path / "broken-symbol.json"
    broken.write_text('{"nodes": [')
    with pytest.raises(ValueError, match=f"{broken}: load_json: the symbol JSON must be valid JSON"):
        sym.load(str(broken))
