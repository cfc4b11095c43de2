"""One concise ``repr`` for the result objects: scalars as they are, arrays and tensors by shape, long containers by
length — so that ``print(result)`` in a notebook shows what a result holds, not a dump of its arrays (or of a
sampler's permutation)."""

from __future__ import annotations

import dataclasses
import numbers

__all__ = ["concise_repr"]

#: The longest value shown in full; longer ones are summarised.
WIDTH = 60


def _short(value) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, numbers.Number) and hasattr(value, "dtype"):
        kind = "tensor" if type(value).__module__.startswith("torch") else "array"
        return f"{kind}(shape={tuple(shape)}, dtype={value.dtype})" if len(shape) else f"{kind}({value.item()!r})"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return f"{type(value).__name__}(…)"
    text = repr(value)
    if len(text) <= WIDTH:
        return text
    if isinstance(value, dict):
        return f"{{…{len(value)} keys: {', '.join(map(str, list(value)[:4]))}{', …' if len(value) > 4 else ''}}}"
    if isinstance(value, list | tuple):
        return f"[…{len(value)} items]" if isinstance(value, list) else f"(…{len(value)} items)"
    return text[: WIDTH - 1] + "…"


def concise_repr(self) -> str:
    """``Name(field=value, …)`` over the dataclass's shown fields, each value summarised (:data:`WIDTH`).

    Examples
    --------
    >>> import numpy as np
    >>> @dataclasses.dataclass
    ... class R:
    ...     psi: float
    ...     variances: np.ndarray
    ...     __repr__ = concise_repr
    >>> R(1.5, np.zeros((50, 3)))
    R(psi=1.5, variances=array(shape=(50, 3), dtype=float64))
    """
    shown = ", ".join(f"{f.name}={_short(getattr(self, f.name))}" for f in dataclasses.fields(self) if f.repr)
    return f"{type(self).__name__}({shown})"
