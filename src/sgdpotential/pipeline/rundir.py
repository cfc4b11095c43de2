"""The run directory: one home for its file names, loading and saving, and provenance.

A run directory holds ``config.json`` (the configuration), ``trajectory.zarr`` and ``record.json`` (the recorded
window and how it was recorded), ``pca.npz``, ``probes.npz``, ``summary.json``, optionally ``ladder.json`` with
``replays/``, and ``report.html`` with ``figures/``. Each stage (:mod:`.stages`) reads what the previous one
wrote, so an interrupted run resumes and the analysis can be redone without retraining.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import scipy

from .._atomic import savez_atomic, write_json_atomic
from .._version import __version__
from ..errors import ConfigError
from ..theory.adaptive import projected_preconditioner
from .config import RunConfig
from .network import build_network

__all__ = ["RunDir", "provenance"]


class RunDir:
    """A run directory and the names of everything in it.

    Examples
    --------
    >>> rd = RunDir("runs/ft")
    >>> rd / RunDir.SUMMARY
    PosixPath('runs/ft/summary.json')
    """

    CONFIG = "config.json"
    TRAJECTORY = "trajectory.zarr"
    RECORD = "record.json"
    PCA = "pca.npz"
    PROBES = "probes.npz"
    SUMMARY = "summary.json"
    LADDER = "ladder.json"
    REPLAYS = "replays"
    REPORT = "report.html"
    FIGURES = "figures"
    FAILED = "failed.json"
    ENSEMBLE = "ensemble.json"
    AGES = "ages"
    WINDOW_END = "window_end.pt"
    BUFFERS = "buffers.npz"  # the model's buffers (BatchNorm running statistics) at the end of the window
    PRECONDITIONER = "preconditioner.npz"  # Adam/RMSprop: 1/(√v̂ + ϵ) over all weights as the window opened, closed

    def preconditioner(self, components=None):
        """Adam / RMSprop runs: the frozen preconditioner of the window's linear model — the mean of its values
        when the window opened and closed, over all weights (``components=None``) or projected on the rows of
        ``components`` over the recorded weights (:func:`~sgdpotential.theory.adaptive.projected_preconditioner`);
        ``None`` for SGD runs."""
        if not (self.path / self.PRECONDITIONER).exists():
            return None
        with self.load(self.PRECONDITIONER) as z:
            mean_all = (z["start"] + z["end"]) / 2
            recorded = z["recorded"]
        if components is None:
            return mean_all

        return projected_preconditioner(mean_all[recorded], components)

    def age_dirs(self, config: RunConfig) -> list[tuple[int, RunDir]]:
        """(age, run directory) of each later window of ``config.ages``, in order."""
        return [(int(a), RunDir(self.path / self.AGES / f"age-{int(a)}")) for a in config.ages]

    def __init__(self, path):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def has(self, *names: str) -> bool:
        """Whether every one of ``names`` exists."""
        return all((self.path / n).exists() for n in names)

    # ------------------------------------------------------------------ reading and writing

    def load(self, name: str):
        """A JSON file as a dict or an NPZ file as arrays; :class:`ConfigError` naming the missing stage."""
        path = self.path / name
        if not path.exists():
            raise ConfigError(f"{str(path)!r} is missing; run the earlier stages first (sgdpotential run --out "
                              f"{str(self.path)!r} --resume).")
        return np.load(path) if name.endswith(".npz") else json.loads(path.read_text())

    def save(self, name: str, content=None, **arrays) -> Path:
        """Write ``content`` as JSON, or ``arrays`` as NPZ, atomically."""
        path = self.path / name
        if name.endswith(".npz"):
            savez_atomic(path, **arrays)
        else:
            write_json_atomic(path, content)
        return path

    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.load(self.CONFIG))

    def stored(self, *, probes: bool = True):
        """What the earlier stages wrote: (config, training config, record.json, pca.npz, probes.npz)."""
        cfg = self.config()
        return (cfg, cfg.train_config(), self.load(self.RECORD), self.load(self.PCA),
                self.load(self.PROBES) if probes else None)

    def network(self, *, data=None):
        """The run's :class:`~sgdpotential.pipeline.network.Network` (data, model, objective, linear model), its
        model holding the buffers the window ended with (``buffers.npz``: BatchNorm's running statistics, which
        eval mode — the probes' mode — uses)."""
        import torch

        net = build_network(self.config(), data=data, fresh=False)
        if (self.path / self.BUFFERS).exists():
            named = dict(net.model.named_buffers())
            with torch.no_grad(), self.load(self.BUFFERS) as stored:
                for name in stored.files:
                    named[name].copy_(torch.as_tensor(stored[name]))
        return net

    # ------------------------------------------------------------------ lifecycle

    def create(self, config: RunConfig) -> bool:
        """Check that the folder can hold a new run and write its ``config.json``; True when the folder was
        created (so that :meth:`discard` removes it)."""
        if self.path.exists() and any(self.path.iterdir()):
            raise ConfigError(f"output folder {str(self.path)!r} is not empty; choose a new --out, pass --resume to "
                              f"continue the run in it, or --force to replace its contents.")
        if not self.path.parent.is_dir():
            raise ConfigError(f"the parent folder of {str(self.path)!r} does not exist; create it first.")
        created = not self.path.exists()
        try:
            self.path.mkdir(exist_ok=True)
            self.save(self.CONFIG, config.to_dict())
        except OSError as exc:
            raise ConfigError(f"cannot write the run folder {str(self.path)!r} ({exc.strerror or exc}); choose "
                              f"another --out.") from exc
        return created

    def check_resumable(self, config: RunConfig) -> None:
        """A run to resume exists here and was started with ``config``."""
        if not self.has(self.CONFIG):
            raise ConfigError(f"nothing to resume in {str(self.path)!r} (no config.json); start without --resume.")
        stored, given = self.load(self.CONFIG), config.to_dict()
        stored.pop("threads", None), given.pop("threads", None)  # another thread count may resume a run
        if stored != given:
            raise ConfigError(f"{str(self.path)!r} was started with a different configuration; resume it with the "
                              f"same settings or choose a new --out.")

    def discard(self, created: bool) -> None:
        """Remove what a fresh run wrote: the folder itself when it created it, else its contents."""
        if not self.path.is_dir():  # it never got as far as making its folder
            return
        paths = [self.path] if created else list(self.path.iterdir())
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _commit() -> str | None:
    """The git commit of the installed source, when it is a checkout (else None)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance(device: str, threads: dict | None = None) -> dict:
    """Where and with what a measurement was made: versions, commit, date, threads (``torch_threads`` where it was
    called; ``threads``, when given: the setting and the count of every stage), device, platform."""
    import torch

    return {"sgdpotential": __version__, "commit": _commit(), "torch": torch.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "torch_threads": torch.get_num_threads(),
            "device": device, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            **({} if threads is None else {"threads": threads})}
