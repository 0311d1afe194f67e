"""Parameter initializers with MXNet's names, arguments, JSON form and dispatch rules.

Mirrors: python/mxnet/initializer.py (1.9.1); spec mxnet-graph-formats.md §7, §1.4.
    init = Xavier()                               # rnd_type='uniform', factor_type='avg', magnitude=3
    init(InitDesc('conv1_weight', attrs), array)  # fills `array` in place
Conventions that bite:
  * a variable's own `__init__` attribute (e.g. '["constant", {"value": 20}]' on `relu4_3_scale`)
    wins over the name suffix: it runs that initializer's weight rule, even for `*_bias`;
  * otherwise the name suffix decides: weight -> this initializer; bias, beta, min -> 0;
    gamma, max -> 1; anything else raises ValueError (BatchNorm's moving_mean/moving_var carry
    their own `__init__` zero/one). A plain-string name takes MXNet's legacy table, which also
    knows moving_mean/moving_avg/moving_inv_var -> 0, moving_var -> 1 (upsampling/stn_loc are not
    supported here);
  * `dumps()` is `json.dumps([classname.lower(), constructor kwargs as given])`;
  * Xavier: fan_in = shape[1]*prod(shape[2:]), fan_out = shape[0]*prod(shape[2:]),
    scale = sqrt(magnitude / factor); 'uniform' draws U(-scale, scale), 'gaussian' N(0, scale).
Random draws come from a NumPy Generator (`rng=` on the call, else the module's, reset by
`seed(n)`), so results are reproducible but never equal to MXNet's own RNG draws.
"""
import json

import numpy as np

__all__ = ["Constant", "InitDesc", "Initializer", "MSRAPrelu", "Normal", "One", "Uniform",
           "Xavier", "Zero", "create", "init_params", "register", "seed"]

_REGISTRY = {}
_rng = np.random.default_rng(0)


def seed(value):
    """Reset the module's random generator (the default source of Uniform/Normal/Xavier draws)."""
    global _rng
    _rng = np.random.default_rng(value)


def register(cls, *aliases):
    """Make `cls` creatable by its lowercased class name (and aliases) in create() / `__init__` attrs."""
    for key in (cls.__name__.lower(), *aliases):
        _REGISTRY[key] = cls
    return cls


class InitDesc(str):
    """A parameter name carrying its variable's attributes (`sym.attr_dict().get(name)`)."""

    def __new__(cls, name, attrs=None, global_init=None):
        desc = super().__new__(cls, name)
        desc.attrs = dict(attrs or {})
        desc.global_init = global_init
        return desc


def _fill(arr, values):
    """Write `values` into `arr` in place, in arr's dtype; arr must be a writable NumPy array."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"Initializer: arr must be a numpy.ndarray, got {type(arr).__name__}")
    arr[...] = values


class Initializer:
    """Base class: dispatches on a variable's `__init__` attribute, then on its name suffix."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs

    def dumps(self):
        """MXNet's JSON string for this initializer, e.g. '["normal", {"sigma": 0.01}]'."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self._kwargs.items())
        return f"{self.__class__.__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.dumps() == other.dumps()

    def __hash__(self):
        return hash(self.dumps())

    def __call__(self, desc, arr, *, rng=None):
        """Fill `arr` (a NumPy array) in place for the parameter described by `desc`.

        desc: an InitDesc (name + attrs; MXNet's rules) or a plain name (MXNet's legacy table).
        """
        rng = _rng if rng is None else rng
        if not isinstance(desc, InitDesc):
            self._legacy_init(desc, arr, rng)
            return
        own = desc.attrs.get("__init__", "")
        if own:
            create(own)._init_weight(desc, arr, rng)
        elif desc.endswith("weight"):
            self._init_weight(desc, arr, rng)
        elif desc.endswith("bias") or desc.endswith("beta") or desc.endswith("min"):
            _fill(arr, 0.0)
        elif desc.endswith("gamma") or desc.endswith("max"):
            _fill(arr, 1.0)
        else:
            self._init_default(desc)

    def _legacy_init(self, name, arr, rng):
        if not isinstance(name, str):
            raise TypeError(f"Initializer: desc must be an InitDesc or a str, got "
                            f"{type(name).__name__}")
        if name.endswith("bias") or name.endswith("beta"):
            _fill(arr, 0.0)
        elif name.endswith("gamma"):
            _fill(arr, 1.0)
        elif name.endswith("weight"):
            self._init_weight(name, arr, rng)
        elif name.endswith(("moving_mean", "moving_inv_var", "moving_avg", "min")):
            _fill(arr, 0.0)
        elif name.endswith(("moving_var", "max")):
            _fill(arr, 1.0)
        else:
            self._init_default(name)

    def _init_default(self, name):
        raise ValueError(
            f"Initializer: unknown initialization pattern for {name}. Default initialization is "
            f"limited to \"weight\", \"bias\", \"gamma\" (1.0), and \"beta\" (0.0); set one with "
            f"Variable(init=...)")

    def _init_weight(self, name, arr, rng):
        raise NotImplementedError(f"{type(self).__name__}: must override _init_weight")


class Zero(Initializer):
    """Fills 0."""

    def _init_weight(self, name, arr, rng):
        _fill(arr, 0.0)


class One(Initializer):
    """Fills 1."""

    def _init_weight(self, name, arr, rng):
        _fill(arr, 1.0)


class Constant(Initializer):
    """Fills `value` (a number, or an array broadcastable to the parameter's shape)."""

    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def dumps(self):
        value = self._kwargs["value"]
        if not np.isscalar(value):
            value = np.asarray(value).tolist()
        return json.dumps([self.__class__.__name__.lower(), {"value": value}])

    def _init_weight(self, name, arr, rng):
        _fill(arr, np.asarray(self.value))


class Uniform(Initializer):
    """Draws U(-scale, scale)."""

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, name, arr, rng):
        _fill(arr, rng.uniform(-self.scale, self.scale, size=arr.shape))


class Normal(Initializer):
    """Draws N(0, sigma) (sigma is the standard deviation)."""

    def __init__(self, sigma=0.01):
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, name, arr, rng):
        _fill(arr, rng.normal(0.0, self.sigma, size=arr.shape))


class Xavier(Initializer):
    """Glorot: scale = sqrt(magnitude / factor), factor = fan_in, fan_out or their mean ('avg')."""

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = float(magnitude)

    def _init_weight(self, name, arr, rng):
        shape = arr.shape
        if len(shape) < 2:
            raise ValueError(f"Xavier: the parameter must be at least 2-D, got {name} with shape "
                             f"{shape}")
        # conv kernels count every tap: (out, in, kh, kw) -> fan_in = in*kh*kw
        hw_scale = float(np.prod(shape[2:])) if len(shape) > 2 else 1.0
        fan_in, fan_out = shape[1] * hw_scale, shape[0] * hw_scale
        factors = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}
        if self.factor_type not in factors:
            raise ValueError(f"Xavier: factor_type must be 'avg', 'in' or 'out', got "
                             f"{self.factor_type!r}")
        scale = np.sqrt(self.magnitude / factors[self.factor_type])
        if self.rnd_type == "uniform":
            _fill(arr, rng.uniform(-scale, scale, size=shape))
        elif self.rnd_type == "gaussian":
            _fill(arr, rng.normal(0.0, scale, size=shape))
        else:
            raise ValueError(f"Xavier: rnd_type must be 'uniform' or 'gaussian', got "
                             f"{self.rnd_type!r}")


class MSRAPrelu(Xavier):
    """He et al.: Xavier('gaussian', factor_type, magnitude = 2 / (1 + slope**2))."""

    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope ** 2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}


for _cls in (Constant, Uniform, Normal, Xavier, MSRAPrelu):
    register(_cls)
register(Zero, "zeros")
register(One, "ones")


def create(spec, **kwargs):
    """An Initializer from an instance, a JSON string ('["constant", {"value": 20}]') or a name."""
    if isinstance(spec, Initializer):
        if kwargs:
            raise ValueError(f"create: no extra arguments allowed with an instance, got {kwargs}")
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"create: spec must be an Initializer or a str, got {type(spec).__name__}")
    if spec.startswith("["):
        name, kwargs = json.loads(spec)
        return create(name, **kwargs)
    if spec.startswith("{"):
        kwargs = json.loads(spec)
        return create(kwargs.pop("initializer"), **kwargs)
    key = spec.lower()
    if key not in _REGISTRY:
        raise ValueError(f"create: initializer must be one of {sorted(_REGISTRY)}, got {spec!r}")
    return _REGISTRY[key](**kwargs)


def init_params(initializer, arg_params, aux_params=None, attr_dict=None, *, rng=None):
    """Initialize parameters as MXNet's Module does: sorted(arg_params), then sorted(aux_params).

    arg_params / aux_params: name -> NumPy array, filled in place (leave data and label out).
    attr_dict: `symbol.attr_dict()`, whose `__init__` entries override the name rules.
    """
    attr_dict = attr_dict or {}
    for params in (arg_params, aux_params or {}):
        for name in sorted(params):
            initializer(InitDesc(name, attr_dict.get(name)), params[name], rng=rng)
