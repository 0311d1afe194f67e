"""Numba CPU kernels (cpu_*.py) and numba.cuda kernels (cuda_*.py): the only package that imports numba.

Each public function here has the same name and signature as the NumPy specification function it
replaces (`ssdref.backend.dispatch`), and is tested equal to it.
"""
