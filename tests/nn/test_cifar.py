"""CIFAR-10 from its python batches: files the test writes in that format (local folder and a download from a real
HTTP server on 127.0.0.1), checksums, a corrupt or hostile batch, missing files, and a CNN run on them."""

import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
from typer.testing import CliRunner

from sgdpotential import ConfigError, load_dataset
from sgdpotential.cli import app
from sgdpotential.nn import download

N_PER_BATCH = 12


def _write_batches(folder, seed=0):
    """Five training batches in CIFAR-10's python format (pickled dicts, bytes keys, uint8 n × 3072 data), written
    as the original files are (protocol 2). Returns the images (n, 3, 32, 32) and labels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k in range(1, 6):
        data = rng.integers(0, 256, (N_PER_BATCH, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, N_PER_BATCH)]
        labels[:10] = list(range(10))  # every class present
        batch = {b"batch_label": f"training batch {k} of 5".encode(), b"labels": labels, b"data": data,
                 b"filenames": [f"img{i}.png".encode() for i in range(N_PER_BATCH)]}
        with open(folder / f"data_batch_{k}", "wb") as fh:
            pickle.dump(batch, fh, protocol=2)
        X.append(data)
        y += labels
    return np.concatenate(X).reshape(-1, 3, 32, 32), np.array(y)


def test_a_local_folder_of_python_batches_loads_as_images(tmp_path):
    X, y = _write_batches(tmp_path / "cifar-10-batches-py")
    for spec in (f"cifar10:{tmp_path}", f"cifar10:{tmp_path / 'cifar-10-batches-py'}"):
        data = load_dataset(spec)
        assert data.X.shape == (5 * N_PER_BATCH, 3072) and data.sample_shape == (3, 32, 32)
        assert data.n_classes == 10 and data.scaling == "pixels / 255 → [0, 1]"
        np.testing.assert_allclose(data.X.numpy().reshape(-1, 3, 32, 32), X / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(data.y.numpy(), y)


def test_missing_corrupt_and_hostile_batches_are_refused_in_one_sentence(tmp_path):
    folder = tmp_path / "c"
    _write_batches(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(ConfigError, match=r"no data_batch_3 in .*; point cifar10:DIR at the folder holding CIFAR-10's"):
        load_dataset(f"cifar10:{folder}")
    _write_batches(folder)
    raw = (folder / "data_batch_2").read_bytes()
    (folder / "data_batch_2").write_bytes(raw[: len(raw) // 2])  # truncated
    with pytest.raises(ConfigError, match=r"data_batch_2' is not a readable CIFAR-10 batch .*corrupt"):
        load_dataset(f"cifar10:{folder}")
    _write_batches(folder)
    with open(folder / "data_batch_4", "wb") as fh:  # a pickle that would run code when loaded
        pickle.dump({b"data": os.system, b"labels": []}, fh, protocol=2)
    with pytest.raises(ConfigError, match=r"data_batch_4' is not a readable CIFAR-10 batch \(global .*system is not "
                       r"allowed"):
        load_dataset(f"cifar10:{folder}")
    _write_batches(folder)
    with open(folder / "data_batch_5", "wb") as fh:
        pickle.dump({b"data": np.zeros((3, 100), np.uint8), b"labels": [0, 1, 2]}, fh, protocol=2)
    with pytest.raises(ConfigError, match=r"not n × 3072 uint8 pixels with one label each"):
        load_dataset(f"cifar10:{folder}")


@pytest.fixture
def cifar_server(tmp_path, monkeypatch):
    """CIFAR-10's archive, as the test writes it, on an HTTP server on 127.0.0.1; its MD5s registered as published."""
    import functools
    import http.server
    import threading

    src = tmp_path / "src" / "cifar-10-batches-py"
    X, y = _write_batches(src)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    www = tmp_path / "www"
    www.mkdir()
    (www / "cifar-10-python.tar.gz").write_bytes(buf.getvalue())
    sums = {f: hashlib.md5((src / f).read_bytes()).hexdigest() for f in download.CIFAR10_BATCHES}
    monkeypatch.setitem(download.REMOTE, "cifar10", ("https://unused.invalid/", {
        "cifar-10-python.tar.gz": hashlib.md5(buf.getvalue()).hexdigest()}))
    monkeypatch.setattr(download, "CIFAR10_BATCHES", sums)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("SGDPOTENTIAL_DATA_URL", f"http://127.0.0.1:{httpd.server_address[1]}/")
    monkeypatch.setenv("SGDPOTENTIAL_CACHE", str(tmp_path / "cache"))
    yield X, y, requests
    httpd.shutdown()
    httpd.server_close()


def test_download_verifies_unpacks_once_and_loads(cifar_server, tmp_path):
    X, y, requests = cifar_server
    data = load_dataset("cifar10")
    np.testing.assert_allclose(data.X.numpy().reshape(-1, 3, 32, 32), X / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y.numpy(), y)
    cache = tmp_path / "cache" / "cifar10"
    assert sorted(p.name for p in cache.iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    load_dataset("cifar10")
    assert requests == ["/cifar-10-python.tar.gz"]  # downloaded once, unpacked once


def test_a_batch_that_fails_its_checksum_after_unpacking_leaves_nothing_unpacked(cifar_server, monkeypatch, tmp_path):
    monkeypatch.setitem(download.CIFAR10_BATCHES, "data_batch_1", "0" * 32)
    with pytest.raises(ConfigError, match=r"cifar-10-python\.tar\.gz' has no data_batch_1 with the published MD5"):
        load_dataset("cifar10")
    assert sorted(p.name for p in (tmp_path / "cache" / "cifar10").iterdir()) == ["cifar-10-python.tar.gz"]


def test_offline_points_to_cifar10_dir_and_leaves_no_empty_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SGDPOTENTIAL_DATA_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("SGDPOTENTIAL_CACHE", str(tmp_path / "cache" / "deeper"))
    with pytest.raises(ConfigError, match=r"this machine may be offline — put the files cifar-10-python.tar.gz in a "
                                          r"folder yourself and use dataset = 'cifar10:DIR'"):
        load_dataset("cifar10")
    assert list(tmp_path.iterdir()) == []  # the cache folders it made for the download are gone again


def test_the_offline_advice_works_the_archive_in_dir_loads(cifar_server, tmp_path):
    X, y, requests = cifar_server
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "cifar-10-python.tar.gz").write_bytes((tmp_path / "www" / "cifar-10-python.tar.gz").read_bytes())
    data = load_dataset(f"cifar10:{folder}")  # the advice of the offline message, followed to the letter
    np.testing.assert_allclose(data.X.numpy().reshape(-1, 3, 32, 32), X / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y.numpy(), y)
    assert sorted(p.name for p in folder.iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    assert requests == []  # nothing downloaded
    (folder / "cifar-10-python.tar.gz").write_bytes(b"not a tarball")
    (folder / "cifar-10-batches-py" / "data_batch_1").unlink()
    with pytest.raises(ConfigError, match=r"no data_batch_1 in .*cifar-10-batches-py'; point cifar10:DIR at the "
                                          r"folder"):
        load_dataset(f"cifar10:{folder}")  # a folder of batches takes precedence over the archive beside it


@pytest.mark.e2e
def test_a_cnn_runs_on_cifar_format_files_and_bad_ones_exit_2(tmp_path):
    _write_batches(tmp_path / "data", seed=1)
    runner = CliRunner()
    out = tmp_path / "run"
    args = ["run", "--preset", "quick", "--dataset", f"cifar10:{tmp_path / 'data'}", "--model", "lenet",
            "--params", "type:Conv2d", "--components", "8", "--batch-size", "16", "--window-epochs", "3",
            "--stride", "1", "--no-ladder"]  # 60 images, 3 steps an epoch: 9 snapshots hold K = 8
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").exists()
    (tmp_path / "data" / "data_batch_1").write_bytes(b"not a pickle")
    bad = tmp_path / "bad"
    result = runner.invoke(app, [*args, "--out", str(bad)])
    assert result.exit_code == 2 and "is not a readable CIFAR-10 batch" in result.stderr and not bad.exists()
