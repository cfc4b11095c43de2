"""Files written whole or not at all, with the permissions the user's umask asks for."""

import os
import stat

import pytest

from sgdpotential._atomic import atomic_write, savez_atomic, write_json_atomic


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_written_files_respect_the_umask(tmp_path, umask, mask):
    """mkstemp alone makes 0600 files that collaborators on a shared cluster cannot read."""
    umask(mask)
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    savez_atomic(tmp_path / "b.npz", x=[1.0])
    with atomic_write(tmp_path / "c.html") as fh:
        fh.write("<p>")
    plain = tmp_path / "plain"
    plain.write_text("")  # what open() gives under this umask
    for name in ("a.json", "b.npz", "c.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == 0o666 & ~mask


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    write_json_atomic(target, {"old": True})
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("{half")
        raise RuntimeError("killed")
    assert target.read_text().startswith("{") and '"old": true' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
