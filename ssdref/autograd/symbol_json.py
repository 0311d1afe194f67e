"""Symbol JSON: MXNet 1.9.1's writer byte for byte, and a loader for 1.9.1 and pre-0.9 files.

Mirrors: nnvm's SaveJSON/LoadJSON passes written through dmlc's JSONWriter, and
src/nnvm/legacy_json_util.cc for old files (no `mxnet_version`); spec mxnet-graph-formats.md §4.
Conventions that bite (the writer's whitespace):
- two spaces of indent per open scope; every separator is ", " then a newline, so each non-last
  line of a multi-line scope ends in a trailing space; no newline at the end of the file;
- an object goes on one line when it has at most one entry; an array of numbers or of
  `[id, index, version]` triples goes on one line when it has at most 10 entries; the node
  array (of objects) is always multi-line; node attrs are sorted by key;
- inputs are `[node id, output index, version]`, version 1 for the aux states an op mutates;
- `node_row_ptr` counts hidden outputs too (BatchNorm 3, L2Normalization 2, max Pooling 2).
"""
from __future__ import annotations

import json

from ssdref.autograd import registry
from ssdref.autograd.graph import AUX_INIT, HIDDEN_KEYS, Node
from ssdref.autograd.symbol import Symbol

MXNET_VERSION = 10901
_ESCAPES = {"\r": "\\r", "\n": "\\n", "\\": "\\\\", "\t": "\\t", '"': '\\"'}


def _quote(text: str) -> str:
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in text) + '"'


def _emit(value, depth: int, out: list):
    """dmlc JSONWriter layout: see the module docstring for when a scope is multi-line."""
    if isinstance(value, str):
        out.append(_quote(value))
        return
    if isinstance(value, int):
        out.append(str(value))
        return
    if isinstance(value, dict):
        items, opener, closer = list(value.items()), "{", "}"
        multi = len(items) > 1
    else:
        items, opener, closer = list(value), "[", "]"
        multi = len(items) > 10 or any(isinstance(v, dict) for v in items)
    out.append(opener)
    pad = "\n" + "  " * (depth + 1)
    for k, item in enumerate(items):
        if k:
            out.append(", ")
        if multi:
            out.append(pad)
        if isinstance(value, dict):
            out.append(_quote(item[0]) + ": ")
            item = item[1]
        _emit(item, depth + 1, out)
    if multi and items:
        out.append("\n" + "  " * depth)
    out.append(closer)


def graph_dict(symbol: Symbol) -> dict:
    """The JSON document as Python data, keys in the writer's order."""
    nodes = symbol._nodes()
    node_id = {node: i for i, node in enumerate(nodes)}
    json_nodes, row_ptr = [], [0]
    for node in nodes:
        entry = {"op": "null" if node.is_variable else node.op.name, "name": node.name}
        if node.attrs:
            entry["attrs"] = {key: node.attrs[key] for key in sorted(node.attrs)}
        entry["inputs"] = [[node_id[src], index, version]
                           for (src, index), version in zip(node.inputs, node.input_versions())]
        json_nodes.append(entry)
        row_ptr.append(row_ptr[-1] + node.num_outputs_with_hidden())
    return {
        "nodes": json_nodes,
        "arg_nodes": [node_id[n] for n in nodes if n.is_variable],
        "node_row_ptr": row_ptr,
        "heads": [[node_id[node], index, 0] for node, index in symbol._outputs],
        "attrs": {"mxnet_version": ["int", MXNET_VERSION]},
    }


def tojson(symbol: Symbol) -> str:
    out: list[str] = []
    _emit(graph_dict(symbol), 0, out)
    return "".join(out)


def _legacy_attrs(spec: dict) -> dict:
    """A node's attrs from 1.x `attrs` or pre-0.9 `param` + `attr` (hidden keys renamed)."""
    attrs = {}
    for section in ("param", "attr", "attrs"):
        attrs.update(spec.get(section) or {})
    renamed = {}
    for key, value in attrs.items():
        renamed[f"__{key}__" if key in HIDDEN_KEYS else key] = str(value)
    return renamed


_OP = "load_json"


def _bad(what: str, expected: str, got, exc=ValueError):
    raise exc(f"{_OP}: {what} must be {expected}, got {got!r}"[:600])


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry(value, what: str, nodes: list, bound: int, before: str = ""):
    """A `[node id, output index(, version)]` entry checked against the nodes before `bound`.

    MXNet rejects ids outside the node list (negative ones included: no Python wrap-around) and
    output indices the node does not have."""
    if not isinstance(value, list) or len(value) not in (2, 3) or not all(_is_int(v) for v in value):
        _bad(what, "[node id, output index, version] (2 or 3 integers)", value)
    node_id, index = value[0], value[1]
    if not 0 <= node_id < bound:
        _bad(what, f"a node id in 0..{bound - 1}{before}" if bound else "a node id (there are no "
             f"nodes{before})", node_id)
    node = nodes[node_id]
    num_outputs = len(node.output_names())
    if not 0 <= index < num_outputs:
        _bad(f"{what} (output index of node {node.name!r})",
             f"in 0..{num_outputs - 1}: the node has {num_outputs} output(s)", index)
    version = value[2] if len(value) > 2 else 0
    if version < 0:
        _bad(f"{what} (version)", ">= 0", version)
    return node, index, version


def _node_fields(spec, position: int):
    """(op, name, attrs) of the JSON node at `position`, each of the right type."""
    where = f"nodes[{position}]"
    if not isinstance(spec, dict):
        _bad(where, "an object", type(spec).__name__, TypeError)
    for field in ("op", "name"):
        if field not in spec:
            _bad(where, f'an object with a "{field}" field', sorted(spec))
        if not isinstance(spec[field], str):
            _bad(f'{where}["{field}"]', "a string", spec[field], TypeError)
    for section in ("param", "attr", "attrs"):
        value = spec.get(section)
        if value is not None and not isinstance(value, dict):
            _bad(f'{where}["{section}"] ({spec["name"]!r})', "an object of attributes", value,
                 TypeError)
    inputs = spec.get("inputs", [])
    if not isinstance(inputs, list):
        _bad(f'{where}["inputs"] ({spec["name"]!r})', "a list of [node id, output index, version]",
             inputs, TypeError)
    return spec["op"], spec["name"], inputs


def _parse(text) -> dict:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{_OP}: the symbol JSON must be UTF-8 text, got {exc}") from None
    if not isinstance(text, str):
        _bad("the symbol JSON", "a str", type(text).__name__, TypeError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{_OP}: the symbol JSON must be valid JSON, got {exc}") from None
    except RecursionError:
        raise ValueError(f"{_OP}: the symbol JSON must be a graph object, got arrays or objects "
                         "nested too deeply to read") from None
    if not isinstance(data, dict):
        _bad("the symbol JSON", 'an object with "nodes", "arg_nodes" and "heads"',
             type(data).__name__)
    return data


def load_json(text: str) -> Symbol:
    """A Symbol from MXNet symbol JSON; `load_json(s.tojson()).tojson() == s.tojson()`.

    Malformed documents raise ValueError/TypeError naming the field (`load_json: heads[0] ...`)."""
    data = _parse(text)
    for field in ("nodes", "arg_nodes", "heads"):
        if field not in data:
            raise ValueError(f'JSONReader: Missing field "{field}"')
        if not isinstance(data[field], list):
            _bad(field, "a list", data[field], TypeError)
    top_attrs = data.get("attrs")
    if top_attrs is not None and not isinstance(top_attrs, dict):
        _bad("attrs", "an object", top_attrs, TypeError)
    legacy = "mxnet_version" not in (top_attrs or {})
    nodes: list[Node] = []
    variables: dict = {}
    for position, spec in enumerate(data["nodes"]):
        op_name, name, raw_inputs = _node_fields(spec, position)
        attrs = _legacy_attrs(spec)
        inputs, versions = [], []
        for k, value in enumerate(raw_inputs):
            source, index, version = _entry(value, f"nodes[{position}] ({name!r}) inputs[{k}]",
                                            nodes, position, " (a node before it)")
            inputs.append((source, index))
            versions.append(version)
        if op_name == "null":
            if name in variables:
                _bad(f"nodes[{position}] name", f"unique among variables (nodes[{variables[name]}] "
                     "is also named so): argument names must not repeat", name)
            variables[name] = position
            nodes.append(Node(None, name, attrs, []))
            continue
        try:
            nodes.append(_op_node(op_name, name, attrs, inputs, versions, legacy))
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{_OP}: nodes[{position}] ({name!r}): {exc}") from None
    if not data["heads"]:
        _bad("heads", "a non-empty list of [node id, output index, version]", data["heads"])
    heads = []
    for k, value in enumerate(data["heads"]):
        source, index, _ = _entry(value, f"heads[{k}]", nodes, len(nodes))
        heads.append((source, index))
    return Symbol(heads)


def _op_node(op_name: str, name: str, attrs: dict, inputs: list, versions: list, legacy: bool) -> Node:
    """An op node; inputs old files leave out become `<name>_<input>` variables (legacy upgrade).

    Input versions are kept as the file has them; inputs added by the upgrade get version 0, as
    MXNet's re-saved upgraded files show (BatchNorm's moved-in aux states included)."""
    opdef = registry.get_op(op_name)
    # Pre-0.9 files may carry `<input>_lr_mult` on the op: it belongs to that input variable.
    moved = {}
    for key in list(attrs) if legacy else []:
        for word in HIDDEN_KEYS:
            if key.endswith("_" + word) and not key.startswith("__"):
                moved.setdefault(key[: -len(word) - 1], {})[f"__{word}__"] = attrs.pop(key)
    node = Node(opdef, name, attrs, [])
    input_names = opdef.all_inputs(node.params)
    if len(inputs) > len(input_names):
        raise ValueError(f"load_json: node {name!r} ({op_name}) has {len(inputs)} inputs, the op "
                         f"takes {len(input_names)}")
    entries = list(inputs)
    for input_name in input_names[len(inputs):]:
        entries.append((Node(None, f"{name}_{input_name}", dict(attrs), []), 0))
    for input_name, (source, _) in zip(input_names, entries):
        if source.is_variable:
            source.attrs.update(moved.get(input_name, {}))
            if legacy and input_name in AUX_INIT and "__init__" not in source.attrs:
                source.attrs["__init__"] = AUX_INIT[input_name]
    node.inputs = entries
    node.versions = versions + [0] * (len(entries) - len(versions))
    return node


def load(fname) -> Symbol:
    """The Symbol of an MXNet `-symbol.json` file; errors name the file."""
    with open(fname, "rb") as handle:
        raw = handle.read()
    try:
        return load_json(raw)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{fname}: {exc}") from None
