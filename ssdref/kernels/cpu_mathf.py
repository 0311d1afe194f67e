"""The C library's float32/float64 expf and logf: they live in `ssdref.mathf` (the specification's
leaf, shared by the NumPy spec and the kernels); this name is kept for the kernels and tests that
import it from here."""
from ssdref.mathf import expf, log1pf, logf, powf, tanhf  # noqa: F401
