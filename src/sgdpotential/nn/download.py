"""Public datasets downloaded once into a cache folder, each file checked against its published checksum.

=================  ==================================================================  =========================
name               files (training split only)                                         published MD5
=================  ==================================================================  =========================
``mnist``          ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``      as torchvision lists them
``fashion-mnist``  the same two names, Zalando's Fashion-MNIST                          as torchvision lists them
``cifar10``        ``cifar-10-python.tar.gz``, unpacked once; each training batch       Krizhevsky's, as
                   checked again after unpacking                                       torchvision lists them
=================  ==================================================================  =========================

The cache folder is ``$SGDPOTENTIAL_CACHE``, else ``$XDG_CACHE_HOME/sgdpotential``, else
``~/.cache/sgdpotential``; each data set gets a subfolder. ``$SGDPOTENTIAL_DATA_URL`` replaces the download
base URL (a mirror; the tests serve files from 127.0.0.1). A file is streamed into a temporary file beside its
final name, its MD5 compared with the published one, and only then renamed into place: a failed, interrupted or
corrupt download never leaves a file that looks cached. Offline, the error names the local-folder form
(``mnist:DIR``) that needs no network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from ..errors import ConfigError

__all__ = ["CIFAR10_BATCHES", "REMOTE", "cache_dir", "fetch", "fetch_cifar10", "unpack_cifar10"]

#: name → (download base URL, {file name: published MD5}).
REMOTE = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    }),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    }),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/", {
        "cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a",
    }),
}

#: The training batches inside CIFAR-10's archive (folder ``cifar-10-batches-py``) and their published MD5s.
CIFAR10_BATCHES = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
}
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"


def cache_dir() -> Path:
    """Where downloaded data sets live (see the module docstring)."""
    if os.environ.get("SGDPOTENTIAL_CACHE"):
        return Path(os.environ["SGDPOTENTIAL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sgdpotential"


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # the published checksums are MD5: integrity, not security
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, *, timeout: float = 60.0) -> Path:
    """The folder holding data set ``name``'s files, downloading and verifying the missing ones.

    Raises
    ------
    ConfigError
        Unknown name; an unwritable cache; no network (the message points to ``mnist:DIR``); a checksum that
        does not match the published one (nothing is cached then).
    """
    if name not in REMOTE:
        raise ConfigError(f"no downloadable data set {name!r}; choose one of {', '.join(REMOTE)}.")
    base, files = REMOTE[name]
    base = os.environ.get("SGDPOTENTIAL_DATA_URL") or base
    folder = cache_dir() / name
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # removed again if nothing gets cached
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-")
            probe.close()
        except OSError as exc:
            raise ConfigError(f"cannot write the data set cache {str(folder)!r} ({exc.strerror or exc}); set "
                              f"SGDPOTENTIAL_CACHE to a writable folder.") from exc
        for file, md5 in files.items():
            target = folder / file
            if target.is_file() and _md5(target) == md5:
                continue
            _download(base.rstrip("/") + "/" + file, target, md5, name, timeout)
    except ConfigError:
        _remove_empty(created)
        raise
    return folder


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed download created, innermost first, as long as they are empty."""
    for path in folders:
        try:
            path.rmdir()
        except OSError:
            return


def _download(url: str, target: Path, md5: str, name: str, timeout: float) -> None:
    """Stream ``url`` into a temporary file beside ``target``; rename it into place only when its MD5 matches."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.part-")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        out.write(block)
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise ConfigError(
                    f"cannot download {url} ({reason}); this machine may be offline — put the files "
                    f"{', '.join(REMOTE[name][1])} in a folder yourself and use dataset = "
                    f"'{_local_form(name)}'.") from exc
        got = _md5(Path(tmp))
        if got != md5:
            raise ConfigError(f"{url} has MD5 {got}, not the published {md5}: the download is corrupt or not the "
                              f"canonical file, so nothing was cached; retry, or use dataset = '{_local_form(name)}' "
                              f"with files you trust.")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _local_form(name: str) -> str:
    """The dataset name that reads the same files from a local folder."""
    return "cifar10:DIR" if name == "cifar10" else "mnist:DIR"


def fetch_cifar10(*, timeout: float = 60.0) -> Path:
    """The folder of CIFAR-10's python batches: the archive downloaded and verified (:func:`fetch`), unpacked
    once into a temporary folder beside the final one and renamed into place only after every training batch's
    MD5 matched the published one (a failed unpacking never looks cached)."""
    folder = fetch("cifar10", timeout=timeout)
    return unpack_cifar10(folder / CIFAR10_ARCHIVE, folder)


def unpack_cifar10(archive: Path, folder: Path) -> Path:
    """``folder/cifar-10-batches-py``, unpacked from CIFAR-10's python ``archive`` once (kept while every training
    batch still has its published MD5): unpacked into a temporary folder beside it and renamed into place only
    after every batch's MD5 matched. Used for the download and for an archive the user put in ``cifar10:DIR``."""

    target = folder / CIFAR10_FOLDER
    if target.is_dir() and all((target / f).is_file() and _md5(target / f) == m for f, m in CIFAR10_BATCHES.items()):
        return target
    try:
        tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".unpack-"))
    except OSError as exc:
        raise ConfigError(f"cannot unpack {str(archive)!r} into {str(folder)!r} ({exc.strerror or exc}); unpack it "
                          f"yourself (tar xzf {archive.name}) and point cifar10:DIR at the folder "
                          f"{CIFAR10_FOLDER}.") from exc
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")  # no absolute paths, links out of tmp or device files
        for file, md5 in CIFAR10_BATCHES.items():
            path = tmp / CIFAR10_FOLDER / file
            if not path.is_file() or _md5(path) != md5:
                raise ConfigError(f"the CIFAR-10 archive {str(archive)!r} has no {file} with the published MD5; it "
                                  f"is not CIFAR-10's python version (cifar-10-python.tar.gz) or it is damaged — "
                                  f"download it again.")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp / CIFAR10_FOLDER, target)
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        raise ConfigError(f"cannot unpack the CIFAR-10 archive {str(archive)!r} ({exc}); download it again, or "
                          f"unpack it yourself (tar xzf {archive.name}) and point cifar10:DIR at the folder "
                          f"{CIFAR10_FOLDER}.") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
