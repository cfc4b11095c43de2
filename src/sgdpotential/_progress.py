"""Progress of a long command, on a terminal or not: the one ``progress(phase, done, total)`` callback the
pipeline calls, drawn as rich bars on a terminal and as plain, rate-limited lines anywhere else (a log file, a
pipe, a batch system), or not at all (``--quiet``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["PlainProgress", "progress_reporter"]


class PlainProgress:
    """``progress(phase, done, total)`` as plain lines: ``progress: window 120/280 (43%), 3 s, about 4 s left``.

    A phase prints its first report, then at most one line per ``every`` seconds, and its completion — so a log
    shows that the run is alive without growing by a line per step.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> p = PlainProgress(out, every=3600)
    >>> for i in range(1, 6):
    ...     p("burn-in", i, 5)
    >>> [line.split(",")[0] for line in out.getvalue().splitlines()]
    ['progress: burn-in 1/5 (20%)', 'progress: burn-in 5/5 (100%)']
    """

    def __init__(self, stream: TextIO, every: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.stream, self.every, self.clock = stream, every, clock
        self.started: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.finished: set[str] = set()

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = self.clock()
        if phase not in self.started or (phase in self.finished and done < total):
            self.started[phase], self.last[phase] = now, -float("inf")
            self.finished.discard(phase)
        complete = total > 0 and done >= total
        if phase in self.finished or not (complete or now - self.last[phase] >= self.every):
            return
        self.last[phase] = now
        if complete:
            self.finished.add(phase)
        elapsed = now - self.started[phase]
        share = done / total if total > 0 else 0.0
        eta = ("done" if complete else f"about {elapsed * (1 - share) / share:.0f} s left" if share > 0 else
               "starting")
        self.stream.write(f"progress: {phase} {done}/{total} ({share:.0%}), {elapsed:.0f} s, {eta}\n")
        self.stream.flush()


@contextmanager
def progress_reporter(console, *, quiet: bool = False, every: float = 10.0) -> Iterator[Callable[[str, int, int],
                                                                                               None] | None]:
    """The progress callback for a command writing to the rich ``console`` (stderr): rich bars when it is a
    terminal, :class:`PlainProgress` lines when it is not, ``None`` (no progress) with ``quiet``. The bars are
    stopped when the block ends, so that an error sentence after it is the last thing printed."""
    if quiet:
        yield None
        return
    if not console.is_terminal:
        yield PlainProgress(console.file, every)
        return

    bar = Progress(TextColumn("{task.description:9s}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console)
    tasks: dict[str, int] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()  # only once work starts: bad input fails before any bar is drawn
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    try:
        yield progress
    finally:
        bar.stop()
