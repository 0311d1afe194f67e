"""Numba CPU kernels (cpu_*.py) and numba.cuda kernels (cuda_*.py): the only package that imports numba.

Each public function here has the same name and signature as the NumPy specification function it
replaces (`ssdref.backend.dispatch`), and is tested equal to it.

Importing this package first makes the idle threads of Numba's and OpenBLAS's pools sleep instead
of spinning against each other (`threads.configure`; SSDREF_THREAD_TUNING=0 turns it off).
"""
from ssdref.kernels import threads as _threads

_threads.configure()
