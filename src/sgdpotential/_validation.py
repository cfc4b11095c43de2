"""One validation helper for scalars at every public boundary (scikit-learn's ``check_scalar`` is the model).

The exception policy, once: bad input raises the layer's own ``ValueError`` subclass — :class:`DecompositionError`
in :mod:`sgdpotential.theory`, :class:`ConfigError` everywhere else — with one sentence that names the value
and says what to pass instead. Integers accept NumPy integers and refuse floats and bools; reals accept any
real number (NumPy scalars included) and refuse bools and non-finite values.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import MISSING, dataclass, field, fields

from .errors import ConfigError

__all__ = ["Spec", "check_fields", "check_scalar", "check_specs", "field_kind", "setting", "shown", "spec_of"]


def shown(value) -> str:
    """repr of a user value, with NumPy scalars shown as plain Python numbers (3, not np.int64(3))."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return repr(int(value))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return repr(float(value))
    return repr(value)


def check_scalar(value, name: str, kind: type = float, *, min_val=None, max_val=None,
                 include_boundaries: str = "both", fix: str | None = None, error: type[ValueError] = ConfigError):
    """Validate a scalar and return it as a plain ``int`` or ``float``.

    Parameters
    ----------
    value : object
        What the user passed.
    name : str
        Its name, as the user wrote it (``"lr"``, ``"batch_size"``).
    kind : {int, float}
        ``int``: an integral number (``np.int64`` accepted; ``3.0`` and ``True`` refused). ``float``: any
        finite real number.
    min_val, max_val : number, optional
        Bounds; ``include_boundaries`` ∈ {"both", "left", "right", "neither"} says which are allowed.
    fix : str, optional
        What to do instead, appended to the message (e.g. ``"e.g. 0.1"``).
    error : type
        The exception raised (the layer's ``ValueError`` subclass).

    Examples
    --------
    >>> import numpy as np
    >>> check_scalar(np.int64(3), "batch_size", int, min_val=1)
    3
    >>> check_scalar(0.0, "lr", min_val=0, include_boundaries="neither")
    Traceback (most recent call last):
    ...
    sgdpotential.errors.ConfigError: lr = 0.0 must be a finite number > 0.
    """
    if kind not in (int, float):
        raise TypeError(f"kind must be int or float, not {kind!r}")
    if include_boundaries not in ("both", "left", "right", "neither"):
        raise TypeError(f"include_boundaries = {include_boundaries!r} is not one of both, left, right, neither")
    closed_low, closed_high = include_boundaries in ("both", "left"), include_boundaries in ("both", "right")
    need = "an integer" if kind is int else "a finite number"
    if min_val is not None and max_val is not None:
        need += f" in {'[' if closed_low else '('}{shown(min_val)}, {shown(max_val)}{']' if closed_high else ')'}"
    elif min_val is not None:
        need += f" {'≥' if closed_low else '>'} {shown(min_val)}"
    elif max_val is not None:
        need += f" {'≤' if closed_high else '<'} {shown(max_val)}"
    problem = error(f"{name} = {shown(value)} must be {need}{'.' if fix is None else f'; {fix}.'}")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral if kind is int else numbers.Real):
        raise problem
    v = kind(value)
    if not math.isfinite(v):
        raise problem
    if min_val is not None and (v < min_val or (v == min_val and not closed_low)):
        raise problem
    if max_val is not None and (v > max_val or (v == max_val and not closed_high)):
        raise problem
    return v


_KINDS = {
    "int": ("an integer", lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool)),
    "float": ("a number", lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "dict": ("a table", lambda v: isinstance(v, dict)),
    "list[int]": ("a list of integers", lambda v: isinstance(v, list | tuple) and all(
        isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in v)),
    "None": ("unset", lambda v: v is None),
}


def check_fields(cls, mapping: dict, where: str, *, error: type[ValueError] = ConfigError) -> None:
    """Check that every key of ``mapping`` is a field of the dataclass ``cls`` and that its value has the field's
    declared type (``int``, ``float``, ``str``, ``bool``, ``dict``, ``list[int]``, each optionally ``| None``);
    else ``error`` in one sentence naming the key, the value and what to give.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     hidden: list[int]
    ...     lr: float = 0.1
    >>> check_fields(C, {"hidden": "50"}, "config file 'a.toml'")
    Traceback (most recent call last):
    ...
    sgdpotential.errors.ConfigError: config file 'a.toml': hidden = '50' must be a list of integers.
    """
    declared = {f.name: f.type if isinstance(f.type, str) else f.type.__name__ if isinstance(f.type, type) else
                str(f.type) for f in fields(cls)}  # "int | None" whether the annotations are strings or not
    for key, value in mapping.items():
        if key not in declared:
            raise error(f"{where}: unknown key {key!r}; known keys are {', '.join(sorted(declared))}.")
        kinds = [k.strip() for k in declared[key].split("|")]
        if not all(k in _KINDS for k in kinds):  # a type this check does not know: the dataclass's own checks
            continue
        if not any(_KINDS[k][1](value) for k in kinds):
            need = " or ".join(_KINDS[k][0] for k in kinds)
            raise error(f"{where}: {key} = {shown(value)} must be {need}.")


# ---------------------------------------------------------------- configuration schema


@dataclass(frozen=True)
class Spec:
    """What a configuration field allows, declared once with the field (its ``metadata``; :func:`setting`).

    Attributes
    ----------
    help : str
        One line: the configuration reference, ``--help`` and the CLI reference.
    low, high : number or None
        Bounds of a numeric field; ``closed`` ∈ {"both", "left", "right", "neither"} says which are allowed.
    choices : tuple of str or None
        The allowed values of a string field.
    fix : str or None
        What to give instead, appended to the error (e.g. ``"e.g. 0.1"``).
    cli : bool
        Offered as ``--name VALUE`` by the ``record`` and ``run`` commands.
    unless : str or None
        Another field of the same dataclass: while it is set (not None), this one is not used and not checked
        (``window_epochs`` unless ``window_steps``).
    """

    help: str
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    choices: tuple[str, ...] | None = None
    fix: str | None = None
    cli: bool = False
    unless: str | None = None


def setting(default=MISSING, *, help: str, default_factory=MISSING, **allowed):
    """A dataclass field with its :class:`Spec` (help, bounds, choices, fix, cli) in its metadata: the one description
    of a configuration field, from which :func:`check_specs`, the CLI options and the configuration reference
    follow.

    >>> @dataclass
    ... class C:
    ...     lr: float = setting(0.1, help="Learning rate.", low=0, closed="neither")
    >>> check_specs(C(lr=-1.0))
    Traceback (most recent call last):
    ...
    sgdpotential.errors.ConfigError: lr = -1.0 must be a finite number > 0.
    """
    return field(default=default, default_factory=default_factory, metadata={"spec": Spec(help, **allowed)})


def spec_of(f) -> Spec | None:
    """The :class:`Spec` of a dataclass field (None where it declares none)."""
    return f.metadata.get("spec")


def field_kind(f) -> str:
    """The first non-None kind of a field's annotation: ``"int"``, ``"float"``, ``"str"``, ``"list[int]"``, …"""
    declared = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return next(k.strip() for k in declared.split("|") if k.strip() != "None")


def check_specs(obj, *, error: type[ValueError] = ConfigError) -> None:
    """Check every field of the dataclass instance ``obj`` against its :class:`Spec`: numeric bounds (by
    :func:`check_scalar`, which also refuses a wrong type) and string choices; ``None`` passes (the field's type says
    whether it may be unset, :func:`check_fields`), and so does a field whose ``unless`` field is set. ``error`` in
    one sentence naming the first bad value."""
    for f in fields(obj):
        spec, value = spec_of(f), getattr(obj, f.name)
        if spec is None or value is None or (spec.unless is not None and getattr(obj, spec.unless) is not None):
            continue
        if spec.choices is not None and value not in spec.choices:
            raise error(f"{f.name} = {shown(value)} is not one of {', '.join(spec.choices)}"
                        f"{'.' if spec.fix is None else f'; {spec.fix}.'}")
        if spec.low is not None or spec.high is not None:
            check_scalar(value, f.name, int if field_kind(f) == "int" else float, min_val=spec.low,
                         max_val=spec.high, include_boundaries=spec.closed, fix=spec.fix, error=error)
