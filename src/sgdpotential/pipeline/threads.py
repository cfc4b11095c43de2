"""Threads: how many torch (and BLAS) threads each stage of a run uses, set deliberately and recorded.

Two processes with two threads each on two busy cores stall in every parallel region (20–50× slower, measured on
this project's shared machines), and the small GEMMs of an MLP's SGD step gain little from a second thread. So
the count is a choice per stage, made by measurement (``bench/bench_threads.py``, BENCHMARKS.md), capped at the
cores this process may use; ``threads = N`` (``--threads N``) sets every stage to N, and a sweep's worker caps each
stage at its share of the cores (cores ÷ workers).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from .._validation import check_scalar, spec_of
from .config import RunConfig

__all__ = ["STAGE_KIND", "STAGE_THREADS", "STAGE_THREADS_NOT_MLP", "available_cores", "check_threads", "is_mlp",
           "kind_threads", "stage_threads", "thread_limit"]

#: Default threads per kind of stage (``None``: every core available), from ``bench/bench_threads.py`` on the feng-tu
#: preset (2 cores, BENCHMARKS.md), under the command's ``OMP_WAIT_POLICY=PASSIVE``: ``steps`` — work done one small
#: step after another (SGD's B = 50 GEMMs; the ladder's replayed steps), where a second thread saves little or, with
#: threads that sleep between the many short parallel regions, costs (the ladder: 1.16× the time of one thread), and
#: with another process on the machine stalls both; ``passes`` — full-data passes and Hessian/noise products (GEMMs
#: over the whole training set), which a second core makes ~20% faster (torch's own default: all).
STAGE_THREADS = {"steps": 1, "passes": None}

#: The same defaults off the built-in MLP (``model`` other than ``"mlp"``: CNNs, ResNets, a user's factory): a step is
#: then convolutions over a minibatch and the ladder's replays are full-data passes, and a second thread helps every
#: stage — on a LeNet (mnist5k, ``bench_threads.py --config``) 2 threads took 0.86× the time per training step of 1,
#: 0.58× the probes and 0.62× the ladder.
STAGE_THREADS_NOT_MLP = {"steps": None, "passes": None}

#: Which kind each stage of :data:`~sgdpotential.pipeline.stages.STAGES` is.
STAGE_KIND = {"record": "steps", "ages": "steps", "probes": "passes", "ladder": "steps", "analysis": "passes",
              "report": "passes"}


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def check_threads(threads) -> None:
    """``None`` or a positive integer, else :class:`~sgdpotential.errors.ConfigError` in one sentence — the bound and
    the advice of :class:`~sgdpotential.pipeline.config.RunConfig`'s ``threads`` field, declared there once."""
    if threads is not None:
        spec = spec_of(RunConfig.__dataclass_fields__["threads"])
        check_scalar(threads, "threads", int, min_val=spec.low, fix=spec.fix)


def kind_threads(kind: str, threads: int | None = None, *, cap: int | None = None, mlp: bool = True) -> int:
    """Threads for work of one kind of :data:`STAGE_THREADS` (:data:`STAGE_THREADS_NOT_MLP` when ``mlp`` is False:
    the run's model is not the built-in MLP): ``threads`` if given, else the kind's default (at most
    :func:`available_cores`); at most ``cap``. Also for work of one kind inside a stage of another, e.g. the replayed
    windows (``"steps"``) of the probe stage, capped at the stage's own count.

    >>> kind_threads("steps", cap=2), kind_threads("steps", 2, cap=2)
    (1, 2)
    """
    cores = available_cores()
    default = (STAGE_THREADS if mlp else STAGE_THREADS_NOT_MLP)[kind]
    n = threads if threads is not None else min(default or cores, cores)
    return n if cap is None else min(n, cap)


def stage_threads(threads: int | None = None, *, cap: int | None = None, mlp: bool = True) -> dict[str, int]:
    """Threads per stage name: :func:`kind_threads` of each stage's kind (:data:`STAGE_KIND`) — ``threads`` for
    every stage, or :data:`STAGE_THREADS` by kind (:data:`STAGE_THREADS_NOT_MLP` when ``mlp`` is False); each at most
    ``cap`` (a sweep worker's share of the cores).

    Examples
    --------
    >>> stage_threads(3)["probes"]
    3
    >>> stage_threads()["record"]
    1
    >>> stage_threads(3, cap=2)["record"]
    2
    """
    check_threads(threads)
    check_threads(cap)
    return {stage: kind_threads(kind, threads, cap=cap, mlp=mlp) for stage, kind in STAGE_KIND.items()}


def is_mlp(config: RunConfig) -> bool:
    """Whether ``config`` trains the built-in MLP, the model :data:`STAGE_THREADS` was measured on."""
    return config.model == "mlp"


@contextmanager
def thread_limit(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads and ``n`` BLAS/OpenMP threads (threadpoolctl), then
    restore the previous counts."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)
