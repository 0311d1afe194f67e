"""Devices as MXNet names them (`mx.cpu()`, `mx.gpu(0)`): accepted and recorded, never used.

Mirrors: python/mxnet/context.py. ssdref computes with NumPy (or the backend chosen with
`ssdref.use_backend`) whatever context a call names; the context only keeps MXNet code running.
"""
from __future__ import annotations

_DEVICE_TYPES = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}


class Context:
    """A device type and id. `Context('gpu', 1)`, `Context(other_context)`."""

    devtype2str = dict(_DEVICE_TYPES)
    devstr2type = {name: code for code, name in _DEVICE_TYPES.items()}

    def __init__(self, device_type, device_id=0):
        if isinstance(device_type, Context):
            device_type, device_id = device_type.device_type, device_type.device_id
        if device_type not in self.devstr2type:
            raise ValueError(f"Context: device_type must be one of {sorted(self.devstr2type)}, "
                             f"got {device_type!r}")
        self.device_type = device_type
        self.device_id = int(device_id)

    @property
    def device_typeid(self) -> int:
        return self.devstr2type[self.device_type]

    def __eq__(self, other):
        return (isinstance(other, Context) and self.device_type == other.device_type
                and self.device_id == other.device_id)

    def __hash__(self):
        return hash((self.device_type, self.device_id))

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    __str__ = __repr__


def cpu(device_id=0) -> Context:
    return Context("cpu", device_id)


def gpu(device_id=0) -> Context:
    return Context("gpu", device_id)


def cpu_pinned(device_id=0) -> Context:
    return Context("cpu_pinned", device_id)


def current_context() -> Context:
    return cpu()
