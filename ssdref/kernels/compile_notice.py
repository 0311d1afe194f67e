"""One line on stderr when a Numba kernel compiles: "compiling kernels, first run only".

Why: every kernel is compiled on its first call and then cached on disk (cache=True, under
NUMBA_CACHE_DIR); a cold cache makes the first `ssdref demo` batch or `ssdref run-checkpoint` take
30-60 s with nothing printed. Numba announces each real compilation as a "numba:compile" event and
loads from its cache without one, so the listener costs nothing on a warm cache and speaks only on a
cold one (or for argument types not compiled before): the cheapest possible cold-cache test.

`announce_compiling()` installs the listener for the rest of the process (the `ssdref` command
does, see ssdref/__init__.py); `import ssdref` in a user's program prints nothing.
"""
from __future__ import annotations

import os
import sys

from numba.core import event

MESSAGE = "compiling kernels, first run only"


class _FirstCompileNotice(event.Listener):
    """A numba.core.event listener that writes MESSAGE once, at the first compilation it sees."""

    def __init__(self, stream=None):
        self.stream = stream
        self.said = False

    def on_start(self, event):
        if not self.said:
            self.said = True
            stream = self.stream or sys.stderr
            print(MESSAGE, file=stream, flush=True)

    def on_end(self, event):
        pass


_listener: _FirstCompileNotice | None = None


def announce_compiling(stream=None) -> _FirstCompileNotice:
    """Print MESSAGE to `stream` (stderr) at the next kernel compilation, once per process."""
    global _listener
    if _listener is None:
        _listener = _FirstCompileNotice(stream)
        event.register("numba:compile", _listener)
    return _listener


def is_ssdref_command(argv0: str, orig_argv: list[str]) -> bool:
    """Whether this process is the `ssdref` command (console script or `python -m ssdref`)."""
    if os.path.basename(argv0 or "") == "ssdref":
        return True
    args = list(orig_argv or ())
    return "-m" in args and args.index("-m") + 1 < len(args) and args[args.index("-m") + 1] == "ssdref"
