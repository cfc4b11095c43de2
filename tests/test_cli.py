"""The command line: a thin layer; bad input exits 2 with one sentence and writes nothing."""

import numpy as np
import pytest
from typer.testing import CliRunner

from sgdpotential import __version__, decompose
from sgdpotential.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.stdout


def test_demo_prints_both_laws():
    result = runner.invoke(app, ["demo", "--n", "12", "--rows", "4"])
    assert result.exit_code == 0, result.output
    assert "σ² vs loss flatness" in result.stdout and "σ² vs U-flatness" in result.stdout
    assert "slope +2.000" in result.stdout  # Boltzmann in the stochastic potential, exactly
    assert "stable" in result.stdout


def test_demo_rejects_bad_options():
    result = runner.invoke(app, ["demo", "--n", "2"])
    assert result.exit_code == 2
    assert "--n" in result.output


def test_decompose_command_writes_npz(tmp_path):
    F = np.array([[1.0, 0.5], [-0.5, 2.0]])
    D = np.array([[1.0, 0.2], [0.2, 0.5]])
    np.save(tmp_path / "F.npy", F)
    np.savetxt(tmp_path / "D.csv", D, delimiter=",")
    out = tmp_path / "dec.npz"
    result = runner.invoke(app, ["decompose", str(tmp_path / "F.npy"), str(tmp_path / "D.csv"),
                                 "--eps", "0.3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert '"kind": "stable"' in result.stdout
    saved = np.load(out)
    np.testing.assert_allclose(saved["U"], decompose(F, D, 0.3).U)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D.csv", "F.npy", "dec.npz"]  # no temp file left


def test_decompose_command_bad_matrix_exits_2_and_writes_nothing(tmp_path):
    np.save(tmp_path / "F.npy", np.diag([1.0, -1.0]))
    np.save(tmp_path / "D.npy", np.eye(2))
    out = tmp_path / "dec.npz"
    result = runner.invoke(app, ["decompose", str(tmp_path / "F.npy"), str(tmp_path / "D.npy"), "--out", str(out)])
    assert result.exit_code == 2
    assert "error:" in result.stderr and "that sum to 0" in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D.npy", "F.npy"]


def test_decompose_command_missing_file_and_folder(tmp_path):
    np.save(tmp_path / "D.npy", np.eye(2))
    result = runner.invoke(app, ["decompose", str(tmp_path / "nope.npy"), str(tmp_path / "D.npy")])
    assert result.exit_code == 2 and "does not exist" in result.stderr
    result = runner.invoke(app, ["decompose", str(tmp_path / "D.npy"), str(tmp_path / "D.npy"),
                                 "--out", str(tmp_path / "missing" / "x.npz")])
    assert result.exit_code == 2 and "output folder" in result.stderr


def test_record_quick_preset(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["record", "--preset", "quick", "--out", str(out), "--window-epochs", "2"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "pca.npz", "record.json", "trajectory.zarr"]
    assert "PC1 holds" in result.stdout and "target reached" in result.stdout
    pca = np.load(out / "pca.npz")
    assert pca["components"].shape == (20, 32 * 32) and pca["mean_all"].shape == (64 * 32 + 32 + 32 * 32 + 32 + 330,)
    again = runner.invoke(app, ["record", "--preset", "quick", "--out", str(out)])
    assert again.exit_code == 2
    assert "is not empty; choose a new --out, pass --resume to continue the run in it, or --force" in " ".join(
        again.stderr.split())


def test_record_resume_of_a_complete_run_only_redoes_the_pca(tmp_path):
    out = tmp_path / "run"
    assert runner.invoke(app, ["record", "--preset", "quick", "--out", str(out), "--window-epochs", "1"]).exit_code == 0
    before = np.load(out / "pca.npz")["variances"]
    result = runner.invoke(app, ["record", "--preset", "quick", "--out", str(out), "--window-epochs", "1", "--resume"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(out / "pca.npz")["variances"], before)
    changed = runner.invoke(app, ["record", "--preset", "quick", "--out", str(out), "--resume", "--lr", "0.2"])
    assert changed.exit_code == 2 and "was started with a different configuration" in changed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "cifar100"], "unknown dataset 'cifar100'; choose one of mnist5k, digits"),
        (["--batch-size", "100000"], "batch_size = 100000 must be an integer in [1, 1797]; a minibatch "
                                       "cannot exceed the 1797 training samples"),
        (["--lr=-1"], "lr = -1.0 must be a finite number > 0"),
        (["--params", "fc9.weight"], "unknown parameter name 'fc9.weight'"),
        (["--preset", "huge"], "unknown preset 'huge'; choose one of feng-tu, feng-tu-mnist, quick"),
        (["--dataset", "npz:/nonexistent/x.npz"], "does not exist; pass npz:PATH"),
    ],
)
def test_record_bad_input_one_sentence_exit_2_nothing_written(tmp_path, args, message):
    out = tmp_path / "run"
    result = runner.invoke(app, ["record", "--preset", "quick", "--out", str(out), *args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert result.stderr.strip().startswith("error:") and result.stderr.strip().count("\n") == 0
    assert not out.exists()


def test_bad_settings_fail_before_any_training_and_leave_nothing(tmp_path):
    """--components 0 (and friends) fail at validation: no burn-in bar, no folder, no --resume trap."""
    for args in (["--components", "0"], ["--lr", "-1"], ["--window-epochs", "0"]):
        out = tmp_path / "r"
        result = runner.invoke(app, ["run", "--preset", "quick", "--out", str(out), *args])
        assert result.exit_code == 2, (args, result.output)
        assert "burn-in" not in result.output and not out.exists(), args


def test_preset_and_config_together_are_refused(tmp_path):
    (tmp_path / "c.toml").write_text('preset = "quick"\ncomponents = 8\n')
    for cmd in ("run", "sweep"):
        result = runner.invoke(app, [cmd, "--preset", "feng-tu", "--config", str(tmp_path / "c.toml"),
                                     "--out", str(tmp_path / cmd)])
        assert result.exit_code == 2 and "were both given" in result.stderr and not (tmp_path / cmd).exists()


def test_force_with_bad_settings_keeps_the_old_run(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    result = runner.invoke(app, ["run", "--preset", "quick", "--out", str(out), "--force", "--components", "0"])
    assert result.exit_code == 2 and (out / "summary.json").read_text() == "{}"


@pytest.mark.e2e
def test_a_sweep_with_failed_runs_exits_non_zero_unless_allowed(tmp_path):
    out = tmp_path / "s"
    args = ["sweep", "--preset", "quick", "--grid", "lr=1e6", "--out", str(out), "--workers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "1 of 1 runs failed" in " ".join(result.stderr.split())
    assert (out / "results.csv").exists()
    again = runner.invoke(app, [*args, "--allow-failures"])  # retried, failed again, accepted
    assert again.exit_code == 0, again.output


def test_the_settings_people_change_most_are_options(tmp_path):
    """--hidden, --activation, --target-accuracy, --ages and --sampling reach config.json (here as far as a
    validation error, before any training); a malformed list is one sentence."""
    out = tmp_path / "r"
    result = runner.invoke(app, ["record", "--preset", "quick", "--out", str(out), "--hidden", "16", "--ages", "1",
                                 "--window-epochs", "2", "--sampling", "replacement", "--activation", "tanh",
                                 "--target-accuracy", "0.5"])
    assert result.exit_code == 2 and "ages = [1]: age 1 opens its window 1 epoch(s)" in " ".join(
        result.stderr.split()) and not out.exists()
    bad = runner.invoke(app, ["run", "--preset", "quick", "--out", str(out), "--hidden", "50,x"])
    assert bad.exit_code == 2 and "--hidden '50,x' is not a comma-separated list of integers" in bad.stderr


@pytest.mark.e2e
def test_options_reach_the_run_configuration(tmp_path):
    out = tmp_path / "r"
    result = runner.invoke(app, ["record", "--preset", "quick", "--out", str(out), "--hidden", "16,16", "--ages", "",
                                 "--window-epochs", "1", "--sampling", "replacement", "--activation", "tanh",
                                 "--target-accuracy", "0.5"])
    assert result.exit_code == 0, result.output
    import json

    c = json.loads((out / "config.json").read_text())
    assert c["hidden"] == [16, 16] and c["activation"] == "tanh" and c["ages"] == []
    assert c["train"]["sampling"] == "replacement" and c["train"]["target_accuracy"] == 0.5


def test_help_texts_keep_their_bracketed_names():
    """Rich markup once swallowed '[grid]' and '[[runs]]' in `sweep --help`; the options' help is printed intact."""
    result = runner.invoke(app, ["sweep", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "a run config plus [grid] or [[runs]] (a grid of values, or a list)." in " ".join(result.output.split())
    bad = runner.invoke(app, ["sweep", "--out", "never"])  # an error sentence with brackets is printed as written
    assert bad.exit_code == 2 and "(or a sweep file with [grid] or [[runs]])" in bad.stderr


def test_record_and_run_take_every_setting_declared_once():
    """pipeline/settings.py is the one list: each name is a configuration field, and both commands offer exactly
    those options (plus their own); called from Python, a setting not given is None, as on the command line."""
    import inspect

    import typer

    from sgdpotential import cli
    from sgdpotential.dynamics.config import TrainConfig
    from sgdpotential.pipeline.config import RunConfig
    from sgdpotential.pipeline.settings import SETTINGS

    fields = set(RunConfig.__dataclass_fields__) - {"train"} | set(TrainConfig.__dataclass_fields__)
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names)) and set(names) <= fields
    for command in (cli.record, cli.run):
        params = inspect.signature(command).parameters
        assert set(names) <= set(params) and "settings" not in params
        assert all(params[n].default is None for n in names)
    helps = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    assert all(f"--{n.replace('_', '-')}" in helps for n in names)
    with pytest.raises(typer.Exit):  # the preset is refused in one sentence, not a KeyError on a missing setting
        cli.record(preset="no-such-preset")
