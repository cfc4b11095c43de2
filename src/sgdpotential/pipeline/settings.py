"""The run settings a command line may override, generated from the configuration schema: every field of
:class:`~sgdpotential.pipeline.config.RunConfig` and :class:`~sgdpotential.TrainConfig` declared with ``cli=True`` (its
help, bounds and choices in its :class:`~sgdpotential._validation.Spec`), its type read from the field's annotation.
The ``record`` and ``run`` commands' options are generated from this list. Torch-free.

:func:`~sgdpotential.pipeline.config.with_overrides` puts a setting where it belongs and checks it against its
field's type, bounds and choices, so this list carries no validation of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import field_kind, spec_of
from .config import config_fields

__all__ = ["SETTINGS", "Setting"]


@dataclass(frozen=True)
class Setting:
    """One overridable setting: a configuration field as the command line offers it, ``--name VALUE`` (None,
    the default, leaves the preset's or config file's value).

    Attributes
    ----------
    name : str
        The configuration field (the option is ``--name`` with ``-`` for ``_``).
    type : type
        ``float``, ``int`` or ``str`` as typed on the command line.
    help : str
        One line for ``--help`` and the CLI reference.
    int_list : bool
        Given as comma-separated integers (``50,50``; ``''`` for an empty list).
    """

    name: str
    type: type
    help: str
    int_list: bool = False


_TYPES = {"int": int, "float": float, "str": str, "list[int]": str}

SETTINGS: tuple[Setting, ...] = tuple(
    Setting(name, _TYPES[field_kind(f)], spec_of(f).help, int_list=field_kind(f) == "list[int]")
    for name, (_, f) in config_fields().items() if spec_of(f) is not None and spec_of(f).cli)
