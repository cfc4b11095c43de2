"""The zarr trajectory store: append, commit, reopen, truncate, and readability with plain zarr."""

import numpy as np
import pytest
import zarr

from sgdpotential import ConfigError, Trajectory


def test_append_read_reopen(tmp_path):
    path = tmp_path / "t.zarr"
    rng = np.random.default_rng(0)
    data = rng.standard_normal((25, 7)).astype(np.float32)
    tr = Trajectory.create(path, 7, metadata={"seed": 3}, capacity=10, chunk_rows=4)
    assert tr.start_all is None  # a writer that does not say where the window opened
    tr.set_start(np.arange(11.0))
    tr.append(data[:10], np.arange(10))
    tr.append(data[10:25], np.arange(10, 25), eval_log={"step": [5], "loss": [0.1], "accuracy": [1.0]})  # grows
    assert tr.shape == (25, 7) and not tr.complete
    tr.finish(np.ones(11))
    again = Trajectory.open(path)
    assert again.complete and again.metadata == {"seed": 3} and again.eval_log["loss"] == [0.1]
    np.testing.assert_array_equal(again.read(), data)
    np.testing.assert_array_equal(again.steps, np.arange(25))
    np.testing.assert_array_equal(again.mean_all, np.ones(11))
    np.testing.assert_array_equal(again.start_all, np.arange(11.0))
    assert zarr.open_group(str(path), mode="r")["start_all"].dtype == np.float64  # plain zarr reads it
    blocks = list(again.iter_chunks())
    assert [s for s, _ in blocks] == [0, 4, 8, 12, 16, 20, 24]
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), data)


def test_prefetched_blocks_are_the_reads_and_a_reader_may_stop_early(tmp_path):
    """iter_chunks reads one block ahead in a worker thread: the blocks are exactly the reads, in order, each a
    fresh array; a reader that breaks off leaves no thread behind."""
    import threading

    data = np.random.default_rng(0).standard_normal((50, 7)).astype(np.float32)
    tr = Trajectory.create(tmp_path / "t.zarr", 7, chunk_rows=3)
    tr.append(data, np.arange(50))
    rows = tr.rows(5, 50)
    got = list(rows.iter_chunks(6))
    assert [s for s, _ in got] == list(range(0, 45, 6))
    np.testing.assert_array_equal(np.concatenate([b for _, b in got]), data[5:])
    assert not np.shares_memory(got[0][1], got[1][1])
    for _, block in tr.iter_chunks(4):
        block[:] = 0.0  # scratch use does not reach the store
        break
    np.testing.assert_array_equal(tr.read(), data)
    assert not [t for t in threading.enumerate() if t.name.startswith("sgdp-read")]


def test_uncommitted_rows_are_invisible_and_readable_with_plain_zarr(tmp_path):
    path = tmp_path / "t.zarr"
    tr = Trajectory.create(path, 3, capacity=8, chunk_rows=2)
    tr.append(np.ones((3, 3)), [1, 2, 3])
    tr.truncate(2)
    assert Trajectory.open(path).n_snapshots == 2
    g = zarr.open_group(path, mode="r")  # no sgdpotential needed to read it
    assert g.attrs["committed"] == 2 and g["snapshots"].shape == (8, 3)
    assert np.isnan(g["snapshots"][5]).all()  # never written: NaN, not a plausible zero


def test_store_messages(tmp_path):
    path = tmp_path / "t.zarr"
    tr = Trajectory.create(path, 3)
    with pytest.raises(ConfigError, match=r"append needs snapshots of shape \(m, 3\) and m steps, got \(2, 4\)"):
        tr.append(np.zeros((2, 4)), [0, 1])
    with pytest.raises(ConfigError, match=r"already exists; resume it, pick a new path"):
        Trajectory.create(path, 3)
    with pytest.raises(ConfigError, match=r"does not exist"):
        Trajectory.open(tmp_path / "nope.zarr")
    zarr.open_group(tmp_path / "other.zarr", mode="w")
    with pytest.raises(ConfigError, match=r"is not an sgdpotential trajectory store"):
        Trajectory.open(tmp_path / "other.zarr")
    with pytest.raises(ConfigError, match=r"cannot truncate a store of 0 snapshots to 5"):
        tr.truncate(5)
