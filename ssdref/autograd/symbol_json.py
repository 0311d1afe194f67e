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


def load_json(text: str) -> Symbol:
    """A Symbol from MXNet symbol JSON; `load_json(s.tojson()).tojson() == s.tojson()`."""
    data = json.loads(text)
    for field in ("nodes", "arg_nodes", "heads"):
        if field not in data:
            raise ValueError(f'JSONReader: Missing field "{field}"')
    legacy = "mxnet_version" not in (data.get("attrs") or {})
    nodes: list[Node] = []
    for position, spec in enumerate(data["nodes"]):
        attrs = _legacy_attrs(spec)
        inputs, versions = [], []
        for entry in spec.get("inputs", []):
            if not 0 <= entry[0] < position:
                raise ValueError(f"load_json: node {spec.get('name')!r} reads node {entry[0]}, "
                                 "which does not come before it")
            inputs.append((nodes[entry[0]], int(entry[1])))
            versions.append(int(entry[2]) if len(entry) > 2 else 0)
        if spec["op"] == "null":
            nodes.append(Node(None, spec["name"], attrs, []))
            continue
        nodes.append(_op_node(spec["op"], spec["name"], attrs, inputs, versions, legacy))
    heads = []
    for entry in data["heads"]:
        heads.append((nodes[entry[0]], int(entry[1])))
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
    with open(fname, encoding="utf-8") as handle:
        return load_json(handle.read())
