"""Downloads of full MNIST and Fashion-MNIST: against a real HTTP server on 127.0.0.1 serving IDX files the test
writes; checksums, caching, corrupt files, an unwritable cache and no network."""

import functools
import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest
from typer.testing import CliRunner

from sgdpotential import ConfigError, load_dataset
from sgdpotential.cli import app
from sgdpotential.nn import download

IMAGES, LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www; yields (base URL, list of requested paths)."""
    www = tmp_path / "www"
    www.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}/", requests
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def digits_files(server, monkeypatch, tmp_path):
    """20 IDX-format 28×28 images and labels on the server, their MD5s registered as the published ones."""
    www, url, requests = server
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (20, 28, 28)), np.arange(20) % 10
    sums = {}
    for name, array in ((IMAGES, X), (LABELS, y)):
        data = _idx(array)
        (www / name).write_bytes(data)
        sums[name] = hashlib.md5(data).hexdigest()
    monkeypatch.setitem(download.REMOTE, "mnist", ("https://unused.invalid/", sums))
    monkeypatch.setenv("SGDPOTENTIAL_DATA_URL", url)
    monkeypatch.setenv("SGDPOTENTIAL_CACHE", str(tmp_path / "cache"))
    return X, y, requests


def test_download_verifies_caches_and_loads(digits_files, tmp_path):
    X, y, requests = digits_files
    data = load_dataset("mnist")
    assert data.X.shape == (20, 784) and data.n_classes == 10
    np.testing.assert_allclose(data.X.numpy(), X.reshape(20, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y.numpy(), y)
    assert sorted(requests) == [f"/{IMAGES}", f"/{LABELS}"]
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == [IMAGES, LABELS]
    load_dataset("mnist")
    assert len(requests) == 2  # the second load reads the verified cache


def test_a_corrupt_file_is_refused_and_nothing_is_cached(server, monkeypatch, tmp_path):
    www, url, _ = server
    (www / IMAGES).write_bytes(_idx(np.zeros((3, 28, 28))))  # not the canonical file: the published MD5 fails
    (www / LABELS).write_bytes(_idx(np.zeros(3)))
    monkeypatch.setenv("SGDPOTENTIAL_DATA_URL", url)
    monkeypatch.setenv("SGDPOTENTIAL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match=r"train-images-idx3-ubyte\.gz has MD5 [0-9a-f]{32}, not the published "
                       r"f68b3c2dcbeaaa9fbdd348bbdeb94873: the download is corrupt or not the canonical file, so "
                       r"nothing was cached"):
        load_dataset("mnist")
    assert not (tmp_path / "cache").exists()  # no file, no half-written .part, no empty folder
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--dataset", "mnist", "--out", str(out)])
    assert result.exit_code == 2 and "not the published f68b3c2dcbeaaa9fbdd348bbdeb94873" in result.stderr
    assert not out.exists() and not (tmp_path / "cache").exists()  # no empty cache folders left behind


def test_offline_points_to_the_local_folder_form(monkeypatch, tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SGDPOTENTIAL_DATA_URL", f"http://127.0.0.1:{port}/")
    monkeypatch.setenv("SGDPOTENTIAL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match=r"cannot download http://127\.0\.0\.1:\d+/train-images-idx3-ubyte\.gz "
                       r"\(.*\); this machine may be offline — put the files .* and use dataset = 'mnist:DIR'"):
        load_dataset("fashion-mnist")
    assert not (tmp_path / "cache").exists()  # the folders made for the download are removed again


def test_an_unwritable_cache_is_named(monkeypatch, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("SGDPOTENTIAL_CACHE", str(tmp_path / "file" / "cache"))
    with pytest.raises(ConfigError, match=r"cannot write the data set cache .*; set SGDPOTENTIAL_CACHE to a writable "
                       r"folder\."):
        load_dataset("mnist")


def test_cli_offline_run_exits_2_before_writing_anything(monkeypatch, tmp_path):
    monkeypatch.setenv("SGDPOTENTIAL_DATA_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("SGDPOTENTIAL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--dataset", "mnist", "--out", str(out)])
    assert result.exit_code == 2 and "this machine may be offline" in result.stderr
    assert "Traceback" not in result.output and not out.exists()
    bad = CliRunner().invoke(app, ["run", "--dataset", "mnist60k", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown dataset 'mnist60k'" in bad.stderr and not out.exists()
