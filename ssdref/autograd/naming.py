"""Automatic op names and attribute scopes: MXNet's `mx.name.NameManager`, `Prefix`, `mx.AttrScope`.

Mirrors: python/mxnet/name.py and attribute.py (1.9.1), spec mxnet-graph-formats.md §1.1, §1.3.
Conventions that bite:
- one counter per *hint* (the lowercased Python function name: `Concat` and `concat` share
  `concat`, `BlockGrad` and `stop_gradient` do not), starting at 0 in every process and thread;
- `with NameManager():` pushes a fresh manager; on exit the previous one comes back with its
  counters untouched;
- `Prefix('p_')` prefixes given and generated op names alike (its own fresh counters);
  Variables are never named by the manager, so never prefixed;
- AttrScope values must be strings; nested scopes merge, inner keys winning.
"""
from __future__ import annotations

import threading

_STATE = threading.local()


class _CurrentManager(type):
    """Gives `NameManager.current` / `AttrScope.current`: this thread's active instance."""

    @property
    def current(cls):
        slot = cls._slot
        value = getattr(_STATE, slot, None)
        if value is None:
            # A new thread (or a fresh process) starts with a fresh default: counters at 0.
            value = cls._default()
            setattr(_STATE, slot, value)
        return value

    def _set_current(cls, value):
        setattr(_STATE, cls._slot, value)


class NameManager(metaclass=_CurrentManager):
    """Hands out `hint + count` names, one counter per hint; a given name passes unchanged."""

    _slot = "name_manager"

    def __init__(self):
        self._counter: dict[str, int] = {}
        self._old_manager = None

    @classmethod
    def _default(cls):
        return NameManager()

    def get(self, name, hint):
        """`name` if truthy, else `hint<counter[hint]>` (and the counter moves on)."""
        if name:
            return name
        count = self._counter.get(hint, 0)
        self._counter[hint] = count + 1
        return f"{hint}{count}"

    def __enter__(self):
        self._old_manager = NameManager.current
        NameManager._set_current(self)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        NameManager._set_current(self._old_manager)
        self._old_manager = None
        return False


class Prefix(NameManager):
    """A NameManager that prepends `prefix` to every op name it returns, given or generated."""

    def __init__(self, prefix: str):
        super().__init__()
        self._prefix = prefix

    def get(self, name, hint):
        return self._prefix + super().get(name, hint)


class AttrScope(metaclass=_CurrentManager):
    """Attributes (str values) given to every op and Variable created inside the scope."""

    _slot = "attr_scope"

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            if not isinstance(value, str):
                raise ValueError(f"AttrScope: attributes need to be strings, got {key}={value!r}")
        self._attr = dict(kwargs)
        self._old_scope = None

    @classmethod
    def _default(cls):
        return AttrScope()

    def get(self, attr=None) -> dict:
        """The scope's attributes updated with `attr` (a new dict; `attr` wins)."""
        merged = dict(self._attr)
        if attr:
            merged.update(attr)
        return merged

    def __enter__(self):
        self._old_scope = AttrScope.current
        merged = dict(self._old_scope._attr)
        merged.update(self._attr)
        self._attr = merged
        AttrScope._set_current(self)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        AttrScope._set_current(self._old_scope)
        self._old_scope = None
        return False

