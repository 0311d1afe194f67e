"""What `divergence` reports: one compared tensor, a replay, a near tie, the whole report."""
from __future__ import annotations

import re
from typing import NamedTuple


RUNTIMES = ("onnxruntime", "tvm")
DEFAULT_RTOL = 1e-4
OP = "divergence"
_STEM = re.compile(r"__\d+$")
DETECTION_OP = "_contrib_MultiBoxDetection"
REVERSED_SCALAR = ("_rminus_scalar", "_rdiv_scalar")


def stem(tensor_name: str) -> str:
    """The hint an export tensor was named after: `conv1_1__4` -> `conv1_1`."""
    return _STEM.sub("", tensor_name)


class NodeResult(NamedTuple):
    """One compared tensor, in graph order."""
    index: int            # position of its ONNX node in the graph
    tensor: str           # the ONNX tensor name
    node: str             # the MXNet node (or `detection:<step>`) it stands for
    op: str               # the ONNX op type
    kind: str             # 'float' or 'discrete'
    error: float          # float: max|diff| / max|ssdref|; discrete: differing elements (inf: shapes)
    tolerance: float      # float: rtol; discrete: 0
    downstream_of: str    # '' or the discrete difference it follows from

    @property
    def ok(self) -> bool:
        return self.error <= self.tolerance


class Replay(NamedTuple):
    """A node run alone by the runtime on ssdref's inputs, compared with ssdref's output."""
    node: str
    op: str
    error: float
    tolerance: float
    matches: bool
    verdict: str


class NearTie(NamedTuple):
    explained: bool | None     # None: the op is not one whose ties can be measured
    detail: str


class DivergenceReport(NamedTuple):
    runtime: str
    results: list
    first_float: NodeResult | None
    first_discrete: NodeResult | None
    near_tie: NearTie | None
    replay_float: Replay | None
    replay_discrete: Replay | None
    notes: list

    @property
    def exit_code(self) -> int:
        if self.first_float is not None:
            return 1
        if self.first_discrete is not None and not (self.replay_discrete and self.replay_discrete.matches):
            return 1
        return 0

    def format(self, show_all=False) -> str:
        from ssdref.divergence.compare import format_report
        return format_report(self, show_all)
