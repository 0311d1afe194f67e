"""Numba CPU kernels (cpu_*.py) and numba.cuda kernels (cuda_*.py): the only package that imports numba.

Each public function here has the same name and signature as the NumPy specification function it
replaces (`ssdref.backend.dispatch`), and is tested equal to it.

Importing this package first (before any kernel can compile or run):
  * makes the idle threads of Numba's and OpenBLAS's pools sleep instead of spinning against each
    other (`threads.configure`; SSDREF_THREAD_TUNING=0 turns it off);
  * in the `ssdref` command only, prints "compiling kernels, first run only" to stderr at the first
    kernel compilation (`compile_notice`): a cold Numba cache is never silent.
"""
import sys as _sys

from ssdref.kernels import compile_notice as _compile_notice
from ssdref.kernels import threads as _threads

_threads.configure()
if _compile_notice.is_ssdref_command(_sys.argv[0] if _sys.argv else "", getattr(_sys, "orig_argv", [])):
    _compile_notice.announce_compiling()
