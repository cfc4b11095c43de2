"""One validation helper for scalars at every public boundary (scikit-learn's ``check_scalar`` is the model).

The exception policy, once: bad input raises the layer's own ``ValueError`` subclass — :class:`DecompositionError`
in :mod:`sgdpotential.theory`, :class:`ConfigError` everywhere else — with one sentence that names the value
and says what to pass instead. Integers accept NumPy integers and refuse floats and bools; reals accept any
real number (NumPy scalars included) and refuse bools and non-finite values.
"""

from __future__ import annotations

import math
import numbers

from .errors import ConfigError

__all__ = ["check_scalar", "shown"]


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
