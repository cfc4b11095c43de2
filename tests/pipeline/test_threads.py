"""Threads: a measured default per stage, one setting for all, validated in one sentence, applied and restored,
recorded in the provenance, and a sweep's workers pinned to their share of the cores."""

import json

import pytest
import torch
from typer.testing import CliRunner

from sgdpotential.cli import app
from sgdpotential.errors import ConfigError
from sgdpotential.pipeline.config import preset
from sgdpotential.pipeline.stages import STAGES
from sgdpotential.pipeline.threads import STAGE_KIND, STAGE_THREADS, available_cores, stage_threads, thread_limit


def test_every_stage_has_a_kind_and_the_default_follows_the_measurement():
    assert set(STAGE_KIND) == {s.name for s in STAGES}
    cores = available_cores()
    default = stage_threads()
    assert STAGE_THREADS == {"steps": 1, "passes": None}  # bench/bench_threads.py, BENCHMARKS.md
    assert default["record"] == default["ages"] == default["ladder"] == 1
    assert default["probes"] == default["analysis"] == default["report"] == cores  # every core available
    assert set(stage_threads(3).values()) == {3}  # one setting for every stage, as the user asked
    assert stage_threads(3, cap=2) == {stage: 2 for stage in STAGE_KIND}  # a sweep worker's share caps it
    assert stage_threads(cap=1) == {stage: 1 for stage in STAGE_KIND}


def test_off_the_mlp_every_stage_takes_every_core():
    """STAGE_THREADS was measured on the MLP; on a CNN a second thread helped every stage (BENCHMARKS.md), so a run
    whose model is not the built-in MLP takes every core in every stage, unless ``threads`` says otherwise."""
    from sgdpotential.pipeline.threads import STAGE_THREADS_NOT_MLP, is_mlp

    cores = available_cores()
    assert STAGE_THREADS_NOT_MLP == {"steps": None, "passes": None}
    assert is_mlp(preset("quick")) and not is_mlp(preset("quick", model="lenet"))
    assert stage_threads(mlp=False) == {stage: cores for stage in STAGE_KIND}
    assert stage_threads(1, mlp=False) == {stage: 1 for stage in STAGE_KIND}
    assert stage_threads(mlp=False, cap=1) == {stage: 1 for stage in STAGE_KIND}


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_a_bad_thread_count_is_one_sentence(bad):
    with pytest.raises(ConfigError, match=r"threads = .* must be an integer ≥ 1; the torch threads of every stage"):
        stage_threads(bad)


def test_thread_limit_applies_and_restores():
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    with thread_limit(before + 1):
        assert torch.get_num_threads() == before + 1
        assert all(p["num_threads"] <= before + 1 for p in threadpool_info())
    assert torch.get_num_threads() == before


def test_the_run_records_its_threads(tmp_path):
    out = tmp_path / "one"
    before = torch.get_num_threads()
    r = CliRunner().invoke(app, ["record", "--preset", "quick", "--window-epochs", "1", "--ages", "", "--threads", "2",
                                 "--quiet", "--out", str(out)])
    assert r.exit_code == 0, r.output
    prov = json.loads((out / "record.json").read_text())["provenance"]
    assert prov["torch_threads"] == 2  # the record stage ran on the setting, not on its default of 1
    assert prov["threads"] == {"setting": 2, "cores": available_cores(), "stages": stage_threads(2)}
    assert json.loads((out / "config.json").read_text())["threads"] == 2
    assert torch.get_num_threads() == before  # restored after the stages
    bad = CliRunner().invoke(app, ["record", "--preset", "quick", "--threads", "0", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "threads = 0 must be an integer ≥ 1" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_the_default_run_records_the_per_stage_counts(quick_run):
    out, _ = quick_run
    prov = json.loads((out / "record.json").read_text())["provenance"]
    assert prov["threads"] == {"setting": None, "cores": available_cores(), "stages": stage_threads()}
    assert prov["torch_threads"] == 1 and prov["omp_wait_policy"] in (None, "PASSIVE", "ACTIVE")


def test_sweep_workers_are_capped_at_their_share_of_the_cores(tmp_path):
    """workers × threads ≤ cores: one worker per core caps every stage of every run at 1 thread (the probes'
    default is every core), and the run's own setting stays as it was in config.json."""
    from sgdpotential.pipeline.sweep import sweep

    base = preset("quick", window_epochs=1.0, components=8, ages=[])
    res = sweep(base, tmp_path / "s", axes={"seed": [0, 1]}, workers=available_cores())
    assert sorted(res.ran) == ["seed=0", "seed=1"] and not res.failed
    for name in res.ran:
        prov = json.loads((tmp_path / "s" / name / "record.json").read_text())["provenance"]
        assert prov["threads"]["stages"] == {stage: 1 for stage in STAGE_KIND} and prov["torch_threads"] == 1
        assert json.loads((tmp_path / "s" / name / "config.json").read_text())["threads"] is None


def test_a_resume_may_use_another_thread_count(tmp_path):
    from sgdpotential.pipeline.rundir import RunDir

    rd = RunDir(tmp_path / "r")
    cfg = preset("quick")
    rd.create(cfg)
    rd.check_resumable(preset("quick", threads=2))  # threads change round-off only: the run is the same run
    with pytest.raises(ConfigError, match="was started with a different configuration"):
        rd.check_resumable(preset("quick", lr=0.2))
