"""Graph nodes and traversal: what the Symbol, the JSON writer and the executor share.

Mirrors: nnvm's Node / NodeEntry and its post-order DFS (1.9.1), spec mxnet-graph-formats.md §2.1.
A node is a Variable (`op` None) or an op application holding its OpDef, its attrs (the strings
the user passed, never defaults) and its inputs as (node, output index) entries, arguments first,
then auxiliary states. Every order in the API (list_arguments, get_internals, JSON nodes,
execution) is the depth-first post-order from the heads, inputs in the op's declared order, each
node once (by identity).
"""
from __future__ import annotations

import numpy as np

HIDDEN_KEYS = ("ctx_group", "lr_mult", "wd_mult", "force_mirroring", "mirror_stage")
DTYPE_FLAGS = {np.dtype(t): flag for t, flag in (
    (np.float32, 0), (np.float64, 1), (np.float16, 2), (np.uint8, 3), (np.int32, 4), (np.int8, 5),
    (np.int64, 6), (np.bool_, 7), (np.int16, 8), (np.uint16, 9), (np.uint32, 10), (np.uint64, 11))}
STORAGE_TYPES = {"default": 0, "row_sparse": 1, "csr": 2}
# Aux inputs whose initializer the op fixes unless the variable already has one (BatchNorm).
AUX_INIT = {"moving_mean": '["zero", {}]', "moving_var": '["one", {}]'}


class Node:
    """One graph node: a Variable (op None) or an op application. Hashed by identity."""

    __slots__ = ("op", "name", "attrs", "inputs", "params", "versions")

    def __init__(self, op, name: str, attrs: dict, inputs: list, versions=None):
        self.op = op                # registry.OpDef, or None for a Variable
        self.name = name
        self.attrs = attrs          # str -> str, exactly what the user gave
        self.inputs = inputs        # list of (Node, output index), args then aux
        self.params = op.parse_params(attrs) if op is not None else None
        # JSON input versions as loaded from a file; None: 0 for arguments, 1 for aux states.
        self.versions = versions

    def input_versions(self) -> list:
        if self.versions is not None:
            return list(self.versions)
        num_args = self.num_args()
        return [0 if k < num_args else 1 for k in range(len(self.inputs))]

    @property
    def is_variable(self) -> bool:
        return self.op is None

    def output_names(self) -> tuple:
        return ("",) if self.op is None else tuple(self.op.outputs(self.params))

    def num_outputs_with_hidden(self) -> int:
        if self.op is None:
            return 1
        return len(self.output_names()) + int(self.op.num_hidden_outputs(self.params))

    def num_args(self) -> int:
        """Inputs before this position are arguments, after it auxiliary states."""
        return len(self.inputs) if self.op is None else len(tuple(self.op.inputs(self.params)))

    def output_label(self, index: int) -> str:
        return self.name if self.op is None else f"{self.name}_{self.output_names()[index]}"


def topo_order(entries) -> list:
    """Depth-first post-order over the nodes reachable from `entries`, inputs in declared order."""
    order, seen = [], set()
    for head, _ in entries:
        if head in seen:
            continue
        seen.add(head)
        stack = [(head, iter(head.inputs))]
        while stack:
            node, pending = stack[-1]
            for child, _ in pending:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def aux_variables(nodes) -> set:
    """Variables fed into an op's auxiliary-state positions (BatchNorm's moving stats)."""
    aux = set()
    for node in nodes:
        if node.op is not None:
            aux.update(src for src, _ in node.inputs[node.num_args():])
    return aux
