"""Datasets: the bundled ones load as documented; user files are validated with one-sentence messages."""

import gzip

import numpy as np
import pytest
import torch

from sgdpotential import ConfigError, load_dataset


def test_mnist5k_is_the_real_bundled_digits():
    ds = load_dataset("mnist5k")
    assert ds.X.shape == (5000, 784) and ds.X.dtype == torch.float32
    assert float(ds.X.min()) == 0.0 and float(ds.X.max()) == 1.0
    assert ds.n_classes == 10 and torch.bincount(ds.y).tolist() == [500] * 10
    assert ds.scaling == "pixels / 255 → [0, 1]"
    assert ds.describe()["n_train"] == 5000


def test_digits_and_mnist1d():
    d = load_dataset("digits")
    assert d.X.shape == (1797, 64) and float(d.X.max()) == 1.0 and d.n_classes == 10
    m = load_dataset("mnist1d")
    assert m.X.shape == (4000, 40) and m.n_classes == 10
    assert torch.equal(m.X, load_dataset("mnist1d").X)  # generated with a fixed seed


def test_npz(tmp_path):
    X = np.random.default_rng(0).standard_normal((30, 2, 3))
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(30) % 3)
    ds = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert ds.X.shape == (30, 6) and ds.n_classes == 3 and ds.scaling == "as given"
    np.savez(tmp_path / "f.npz", X=X, y=(np.arange(30) % 3).astype(float))
    assert load_dataset(f"npz:{tmp_path / 'f.npz'}").y.dtype == torch.int64


def _write_idx(path, arr, gz):
    header = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    (gzip.open if gz else open)(path, "wb").write(header + arr.astype(np.uint8).tobytes())


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_folder(tmp_path, gz):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (12, 28, 28))
    labels = np.arange(12) % 10
    sfx = ".gz" if gz else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{sfx}", imgs, gz)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", labels, gz)
    ds = load_dataset(f"mnist:{tmp_path}")
    assert ds.X.shape == (12, 784)
    np.testing.assert_allclose(ds.X.numpy(), imgs.reshape(12, -1) / 255.0, rtol=1e-6)
    assert ds.y.tolist() == labels.tolist()


def test_bad_datasets(tmp_path):
    cases = []
    np.savez(tmp_path / "noy.npz", X=np.zeros((4, 2)))
    cases.append(("npz:" + str(tmp_path / "noy.npz"), r"has arrays \['X'\] but no y; save inputs as X and integer"))
    np.savez(tmp_path / "len.npz", X=np.zeros((4, 2)), y=np.zeros(3, int))
    cases.append(("npz:" + str(tmp_path / "len.npz"), r"X has 4 samples but y has shape \(3,\); pass one label"))
    X = np.zeros((4, 2))
    X[1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=X, y=np.array([0, 1, 0, 1]))
    cases.append(("npz:" + str(tmp_path / "nan.npz"), r"X has 1 non-finite or non-numeric value\(s\); clean the"))
    np.savez(tmp_path / "frac.npz", X=np.zeros((4, 2)), y=np.array([0.5, 1, 0, 1]))
    cases.append(("npz:" + str(tmp_path / "frac.npz"), r"y has dtype float64; labels must be integers"))
    cases.append(("npz:" + str(tmp_path / "missing.npz"), r"file .*missing.npz' does not exist"))
    cases.append(("cifar100", r"unknown dataset 'cifar100'; choose one of mnist5k, digits, mnist1d, npz:PATH, "
                              r"mnist:DIR"))
    cases.append((f"mnist:{tmp_path}", r"no train-images-idx3-ubyte\[.gz\] in"))
    for name, message in cases:
        with pytest.raises(ConfigError, match=message):
            load_dataset(name)
