"""Input checks shared by every op: clear ValueError/TypeError messages naming op, argument, expectation.

Message form (STYLE.md): `<Op>: <argument> must be <what was expected>, got <what came>`, e.g.
`MultiBoxTarget: label must have 5 or more columns per row, got shape (2, 3, 4)`.
"""
import numbers
import os

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def fail(op: str, message: str, exc=ValueError):
    """Raise `exc` with the op's name in front: the one way ops report bad input."""
    raise exc(f"{op}: {message}")


def check_array(op: str, name: str, x, *, ndim=None, min_ndim=None, float_only=True) -> np.ndarray:
    """`x` as an ndarray (never copied unless needed); floats must be float32 or float64."""
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple, numbers.Number)) and not isinstance(x, bool):
            x = np.asarray(x)
        else:
            fail(op, f"{name} must be a numpy array, got {type(x).__name__}", TypeError)
    if float_only and x.dtype not in FLOAT_DTYPES:
        fail(op, f"{name} must be float32 or float64, got dtype {x.dtype}", TypeError)
    if ndim is not None and x.ndim != ndim:
        fail(op, f"{name} must be {ndim}-D, got shape {x.shape}")
    if min_ndim is not None and x.ndim < min_ndim:
        fail(op, f"{name} must have at least {min_ndim} dimensions, got shape {x.shape}")
    return x


def check_same_dtype(op: str, **arrays) -> np.dtype:
    """All given arrays share one float dtype (mixed float32/float64 is a TypeError); returns it."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    distinct = set(dtypes.values())
    if len(distinct) > 1:
        listing = ", ".join(f"{n}={d}" for n, d in dtypes.items())
        fail(op, f"inputs must share one dtype, got {listing}", TypeError)
    return distinct.pop() if distinct else np.dtype(np.float32)


def check_shape(op: str, name: str, x: np.ndarray, expected: tuple):
    """x.shape == expected, where None in `expected` matches any size."""
    ok = x.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, x.shape))
    if not ok:
        shown = tuple("?" if e is None else e for e in expected)
        fail(op, f"{name} must have shape {shown}, got {x.shape}")


def check_choice(op: str, name: str, value, choices):
    if value not in choices:
        fail(op, f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_int(op: str, name: str, value, *, minimum=None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(op, f"{name} must be an integer, got {value!r}", TypeError)
    if minimum is not None and value < minimum:
        fail(op, f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(op: str, name: str, value, *, minimum=None, maximum=None, allow_nan=False,
                finite=False) -> float:
    """A real number; NaN refused unless allow_nan (MXNet's scalar ops take it), +-inf refused
    with finite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(op, f"{name} must be a number, got {value!r}", TypeError)
    value = float(value)
    if np.isnan(value) and not allow_nan:
        fail(op, f"{name} must not be NaN")
    if finite and np.isinf(value):
        fail(op, f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        fail(op, f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        fail(op, f"{name} must be <= {maximum}, got {value}")
    return value


def check_int_tuple(op: str, name: str, value, length: int, *, minimum=None) -> tuple:
    """An int or a sequence of `length` ints (MXNet's Shape arguments: kernel, stride, pad...)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value),) * length
    if not isinstance(value, (tuple, list)) or len(value) != length:
        fail(op, f"{name} must be {length} integers, got {value!r}")
    return tuple(check_int(op, name, v, minimum=minimum) for v in value)


def check_finite(op: str, name: str, x: np.ndarray):
    """Reject NaN/inf where an op would otherwise produce a silent NaN."""
    if not np.all(np.isfinite(x)):
        fail(op, f"{name} must be finite, got {int(np.size(x) - np.isfinite(x).sum())} NaN/inf values")


class UsageError(ValueError):
    """A command-line argument that cannot work (the `ssdref` command exits 2 on it, as argparse)."""


def check_out_file(command: str, option: str, path) -> str:
    """`path` can be written as a file: its folder exists and it is not itself a folder."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{command}: {option} must be a file in an existing folder, got {path!r} "
                         f"(no folder {folder})")
    if os.path.isdir(path):
        raise UsageError(f"{command}: {option} must be a file, got the folder {path!r}")
    return path


FLOAT32_MAX = float(np.finfo(np.float32).max)
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1


def check_param_float(op: str, name: str, value) -> float:
    """An MXNet `float` parameter: a real number finite in float32 (the C++ type MXNet parses it
    into; 1e39, inf and NaN fail its parser). TypeError for a non-number, ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(op, f"{name} must be a number, got {value!r}", TypeError)
    try:
        value = float(value)
    except OverflowError:
        fail(op, f"{name} must be a finite float32 number (|v| <= {FLOAT32_MAX:.7g}), got {value!r}")
    if not np.isfinite(value) or abs(value) > FLOAT32_MAX:
        fail(op, f"{name} must be a finite float32 number (|v| <= {FLOAT32_MAX:.7g}), got {value!r}")
    return value


def check_param_int(op: str, name: str, value) -> int:
    """An MXNet `int` parameter: an integer in int32 (a value outside fails MXNet's parser)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(op, f"{name} must be an integer, got {value!r}", TypeError)
    if not INT32_MIN <= value <= INT32_MAX:
        fail(op, f"{name} must be an int32 in [{INT32_MIN}, {INT32_MAX}], got {value}")
    return int(value)
