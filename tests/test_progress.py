"""Progress without a terminal: plain lines at a bounded rate, with percent and ETA; none with --quiet; and a real
command writing into a pipe shows them while it runs."""

import io
import os
import subprocess
import sys

from rich.console import Console

from sgdpotential._progress import PlainProgress, progress_reporter


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_plain_lines_are_rate_limited_and_carry_percent_and_eta():
    out, clock = io.StringIO(), Clock()
    p = PlainProgress(out, every=10.0, clock=clock)
    for done in range(1, 101):  # 100 epochs, one per second
        clock.t = float(done)
        p("burn-in", done, 100)
    lines = out.getvalue().splitlines()
    # the first report, then one line per 10 s at most, and the completion: 1, 11, 21, …, 91, 100
    assert [int(line.split()[2].split("/")[0]) for line in lines] == [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 100]
    assert lines[0] == "progress: burn-in 1/100 (1%), 0 s, about 0 s left"
    assert lines[5] == "progress: burn-in 51/100 (51%), 50 s, about 48 s left"  # 50 s for 50 steps: 49 more
    assert lines[-1] == "progress: burn-in 100/100 (100%), 99 s, done"
    p("burn-in", 100, 100)  # a repeated completion prints nothing
    assert len(out.getvalue().splitlines()) == 11


def test_each_phase_has_its_own_clock_and_a_restarted_phase_starts_again():
    out, clock = io.StringIO(), Clock()
    p = PlainProgress(out, every=10.0, clock=clock)
    p("window", 1, 4)
    clock.t = 1.0
    p("probes", 0, 2)  # another phase reports at once
    p("window", 4, 4)
    clock.t = 2.0
    p("window", 1, 4)  # the next age's window: a new phase run
    assert [line.split(",")[0] for line in out.getvalue().splitlines()] == [
        "progress: window 1/4 (25%)", "progress: probes 0/2 (0%)", "progress: window 4/4 (100%)",
        "progress: window 1/4 (25%)"]


def test_the_reporter_picks_bars_lines_or_nothing():
    pipe = Console(file=io.StringIO(), force_terminal=False)
    with progress_reporter(pipe) as p:
        assert isinstance(p, PlainProgress)
        p("window", 3, 3)
    assert pipe.file.getvalue().startswith("progress: window 3/3 (100%)")
    with progress_reporter(pipe, quiet=True) as p:
        assert p is None
    term = Console(file=io.StringIO(), force_terminal=True)
    with progress_reporter(term) as p:
        assert callable(p) and not isinstance(p, PlainProgress)


def test_a_run_into_a_pipe_shows_progress_while_it_runs(tmp_path):
    """`sgdpotential run … > log 2>&1`: lines arrive in the pipe before the process has finished."""
    cmd = [sys.executable, "-c", "from sgdpotential.cli import main; main()", "run", "--preset", "quick",
           "--window-epochs", "1", "--no-ladder", "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                            env={**os.environ, "COLUMNS": "120"})
    seen_running = []
    for line in proc.stdout:
        if line.startswith("progress: "):
            seen_running.append((line.strip(), proc.poll() is None))
    proc.wait(timeout=300)
    assert proc.returncode == 0
    phases = {line.split()[1] for line, _ in seen_running}
    assert {"burn-in", "window", "probes"} <= phases
    assert any(running for _, running in seen_running)  # written while the run was still going, not at its end
    assert all("%" in line for line, _ in seen_running)
    quiet = subprocess.run([*cmd[:-1], str(tmp_path / "quiet"), "--quiet"], capture_output=True, text=True,
                           cwd=tmp_path)
    assert quiet.returncode == 0 and "progress:" not in quiet.stderr + quiet.stdout
    assert (tmp_path / "quiet" / "summary.json").exists()
