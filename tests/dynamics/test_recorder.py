"""The burn-in policy and the window recorder that training, replicas and replays share."""

import numpy as np
import pytest
import torch

from sgdpotential import Trajectory
from sgdpotential.dynamics.recorder import BurnIn, WindowRecorder


def test_burn_in_policy():
    fixed = BurnIn(epochs=3, target_accuracy=1.0, max_epochs=100)
    assert [fixed.over(e, 1.0) for e in (0, 2, 3)] == [False, False, True] and fixed.limit == 3
    target = BurnIn(epochs=None, target_accuracy=0.9, max_epochs=5)
    assert not target.over(0, float("nan")) and not target.over(1, 0.5) and target.over(1, 0.95)
    assert target.over(5, 0.1) and target.limit == 5  # gives up after max_epochs
    assert target.outcome(5, 100, 0.1, {"epochs": 5, "accuracy": 0.1}) == {
        "epochs": 5, "steps": 100, "accuracy": 0.1, "reached_target": False, "age_epochs": 0, "target_epochs": 5}
    assert fixed.outcome(3, 30, 0.2, {"epochs": 3, "accuracy": 0.2})["reached_target"] is None
    assert BurnIn(0, 1.0, 1).over(0, float("nan"))  # no burn-in at all


def test_the_window_opens_age_epochs_after_the_burn_in_proper():
    aged = BurnIn(epochs=None, target_accuracy=0.9, max_epochs=50, age=2)
    assert aged.limit == 52
    opens, ended = aged.step(3, 0.95, None)
    assert not opens and ended == {"epochs": 3, "accuracy": 0.95}
    assert aged.step(4, 0.5, ended) == (False, ended)  # the target is not re-checked during the age epochs
    assert aged.step(5, 0.5, ended) == (True, ended)
    out = aged.outcome(5, 250, 0.5, ended)
    assert out["reached_target"] is True and out["target_epochs"] == 3 and out["age_epochs"] == 2


@pytest.mark.parametrize("stride", [1, 3])
def test_a_recorder_resumed_from_its_state_writes_the_same_store(tmp_path, stride):
    rng = np.random.default_rng(0)
    weights = torch.as_tensor(rng.standard_normal((40 * stride, 7)), dtype=torch.float32)

    def run(path, stop=None, state=None, rec_path=None):
        traj = Trajectory.create(path, 3, capacity=40, chunk_rows=8) if state is None else Trajectory.open(
            rec_path, mode="r+")
        if state is not None:
            traj.truncate(state["committed"])
        rec = WindowRecorder(traj, 40, stride, 7, torch.device("cpu"), state=state)
        step = rec.window_step
        while not rec.done:
            w = weights[step]
            step += 1
            if rec.advance() and rec.add(step, w[:3], w) and stop is not None and rec.committed >= stop:
                return rec.state()
        rec.finish()
        return traj

    whole = run(tmp_path / "a.zarr")
    state = run(tmp_path / "b.zarr", stop=16)
    resumed = run(None, state=state, rec_path=tmp_path / "b.zarr")
    np.testing.assert_array_equal(whole.read(), resumed.read())
    np.testing.assert_array_equal(whole.steps, resumed.steps)
    np.testing.assert_allclose(whole.mean_all, weights[stride - 1 :: stride].double().mean(0).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(whole.mean_all, resumed.mean_all)
    assert whole.steps.tolist() == list(range(stride, 40 * stride + 1, stride))


def test_a_checkpoint_is_refused_while_snapshots_are_buffered(tmp_path):
    rec = WindowRecorder(Trajectory.create(tmp_path / "t.zarr", 2, capacity=10, chunk_rows=4), 10, 1, 2,
                         torch.device("cpu"))
    assert rec.advance() and not rec.add(1, torch.zeros(2), torch.zeros(2))
    with pytest.raises(RuntimeError, match="right after a commit"):
        rec.state()
