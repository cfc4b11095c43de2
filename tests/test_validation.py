"""The one scalar-validation helper: the same acceptance and the same message shape in every layer."""

import numpy as np
import pytest

from sgdpotential import ConfigError, DecompositionError, LinearSGD, TrainConfig
from sgdpotential._validation import check_scalar
from sgdpotential.nn.data import load_dataset


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_integers_of_every_kind_are_accepted_as_plain_int(value):
    out = check_scalar(value, "batch_size", int, min_val=1)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize(("value", "shown"), [(3.0, "3.0"), (True, "True"), ("3", "'3'"), (None, "None")])
def test_non_integers_are_refused_with_the_value_named(value, shown):
    with pytest.raises(ConfigError, match=rf"^batch_size = {shown} must be an integer ≥ 1\.$"):
        check_scalar(value, "batch_size", int, min_val=1)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0, -1])
def test_reals_must_be_finite_and_inside_the_bounds(value):
    with pytest.raises(ConfigError, match=r"^lr = .* must be a finite number > 0; e\.g\. 0\.1\.$"):
        check_scalar(value, "lr", float, min_val=0, include_boundaries="neither", fix="e.g. 0.1")


def test_ranges_are_stated_with_their_open_and_closed_ends():
    with pytest.raises(ConfigError, match=r"momentum = 1\.0 must be a finite number in \[0, 1\)"):
        check_scalar(1.0, "momentum", float, min_val=0, max_val=1, include_boundaries="left")
    assert check_scalar(np.float32(0.5), "momentum", float, min_val=0, max_val=1) == 0.5


def test_each_layer_raises_its_own_valueerror_subclass_with_the_same_message():
    """Exception policy: theory → DecompositionError, everything else → ConfigError; both ValueError."""
    with pytest.raises(DecompositionError, match=r"^batch_size = 2\.0 must be an integer ≥ 1; the minibatch size B\.$"):
        LinearSGD(0.1, 2.0)
    with pytest.raises(ConfigError, match=r"^batch_size = 2\.0 must be an integer in \[1, 1797\]"):
        TrainConfig(batch_size=2.0).validate(load_dataset("digits").n_train)
    assert issubclass(DecompositionError, ValueError) and issubclass(ConfigError, ValueError)
    assert LinearSGD(0.1, np.int64(50)).batch_size == 50  # NumPy integers everywhere, not only in the theory


def test_check_specs_bounds_choices_and_unset():
    from dataclasses import dataclass

    from sgdpotential._validation import check_specs, setting, spec_of

    @dataclass
    class C:
        k: int | None = setting(None, help="K.", low=1, fix="a positive count")
        mode: str = setting("a", help="Mode.", choices=("a", "b"))
        free: str = setting("x", help="Anything.")

    check_specs(C())  # unset passes: the type says whether it may be
    check_specs(C(k=np.int64(2), mode="b", free="whatever"))
    with pytest.raises(ConfigError, match=r"^k = 0 must be an integer ≥ 1; a positive count\.$"):
        check_specs(C(k=0))
    with pytest.raises(ConfigError, match=r"^k = 2.0 must be an integer ≥ 1; a positive count\.$"):
        check_specs(C(k=2.0))
    with pytest.raises(ConfigError, match=r"^mode = 'c' is not one of a, b\.$"):
        check_specs(C(mode="c"))
    assert spec_of(C.__dataclass_fields__["free"]).help == "Anything."
