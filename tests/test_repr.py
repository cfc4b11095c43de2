"""Result objects print concisely: scalars as they are, arrays by shape, no dump of a sampler's permutation."""

import numpy as np

import sgdpotential as sp
from sgdpotential._repr import concise_repr
from sgdpotential.dynamics.training import TrainResult
from sgdpotential.pipeline.record import RecordResult
from sgdpotential.pipeline.sweep import SweepResult
from sgdpotential.trajectory.pca import HeldOutPCA, PCAResult


def test_every_result_class_uses_the_concise_repr():
    from sgdpotential.demos.demo import DemoResult
    from sgdpotential.demos.toy import ToyResult
    from sgdpotential.dynamics.replay import ReplayResult
    from sgdpotential.nn.data import Dataset
    from sgdpotential.nn.probes.closure import Closure
    from sgdpotential.nn.probes.landscape import Flatness
    from sgdpotential.nn.probes.noise import MinibatchLandscape
    from sgdpotential.pipeline.calibration import LinearCase
    from sgdpotential.pipeline.network import Network
    from sgdpotential.theory.decomposition import Decomposition
    from sgdpotential.theory.fit import LinearSDEFit
    from sgdpotential.theory.lyapunov import LyapunovSolution
    from sgdpotential.theory.population import PopulationPsi
    from sgdpotential.theory.thermo import RotationPlanes

    for cls in (TrainResult, RecordResult, SweepResult, PCAResult, HeldOutPCA, DemoResult, ToyResult, ReplayResult,
                Dataset, Closure, Flatness, MinibatchLandscape, LinearCase, Network, Decomposition, LinearSDEFit,
                LyapunovSolution, PopulationPsi, RotationPlanes):
        assert cls.__repr__ is concise_repr, cls.__name__


def test_a_train_result_prints_in_a_few_lines(tmp_path):
    data = sp.load_dataset("digits")
    res = sp.train(sp.build_mlp([64, 8, 8, 10]), data, sp.TrainConfig(lr=0.05, batch_size=32, burn_in_epochs=1,
                                                                     window_steps=20), tmp_path / "t.zarr")
    text = repr(res)
    assert len(text) < 700 and "\n" not in text, text
    assert text.startswith("TrainResult(trajectory=") and "burn_in_epochs=1" in text and "window_steps=20" in text
    assert "state={…" in text and "tensor([" not in text  # the training state (sampler permutation) is not dumped


def test_arrays_are_shown_by_shape_and_long_values_are_cut():
    dec = sp.decompose(np.array([[2.0, 0.5], [-0.5, 1.0]]), np.eye(2), 0.1)
    text = repr(dec)
    assert text.startswith("Decomposition(") and "array(shape=(2, 2), dtype=float64)" in text
    assert len(text) < 1000
