"""Ray beyond one node: a head and a second node on 127.0.0.1 (``ray.cluster_utils.Cluster``) run a sweep whose
results.csv equals the local backend's, both nodes take runs, and the package and a user's model factory from the
current folder reach the workers through the sweep's ``runtime_env``, not through this checkout."""

import copy
import csv
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sgdpotential
from sgdpotential.cli import app
from sgdpotential.pipeline.sweep import runtime_env

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.e2e]
runner = CliRunner()

#: A factory in the current folder, written as a user would: two hidden layers, so that 'hidden' selects 16 × 16.
FACTORY = '''
import torch.nn as nn


def small(sample_shape, n_classes):
    n = 1
    for d in sample_shape:
        n *= d
    return nn.Sequential(nn.Flatten(), nn.Linear(n, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, n_classes))
'''

#: The sweep: the quick preset with the user's network, a short window, two seeds.
SWEEP = 'preset = "quick"\nmodel = "usernet:small"\ncomponents = 8\n[train]\nwindow_epochs = 1.0\n' \
        '[grid]\nseed = [0, 1]\n'


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    c.shutdown()


def _csv(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_a_two_node_sweep_equals_the_local_one_and_uses_both_nodes(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "usernet.py").write_text(FACTORY)
    (tmp_path / "sweep.toml").write_text(SWEEP)
    args = ["sweep", "--config", "sweep.toml", "--quiet"]
    before = set(Path(tempfile.gettempdir()).glob("sgdpotential-ray-*"))  # another process's may be there
    local = runner.invoke(app, [*args, "--out", "local", "--backend", "local"])
    assert local.exit_code == 0, local.output
    on_cluster = runner.invoke(app, [*args, "--out", "cluster", "--backend", "ray", "--address", cluster.address])
    assert on_cluster.exit_code == 0, on_cluster.output
    rows = _csv(tmp_path / "cluster" / "results.csv")
    assert len(rows) == 2 and all(r["status"] == "done" for r in rows)
    # the same runs, bit for bit: one torch/BLAS thread per run on both engines
    assert (tmp_path / "cluster" / "results.csv").read_text() == (tmp_path / "local" / "results.csv").read_text()
    meta = json.loads((tmp_path / "cluster" / "sweep.json").read_text())
    assert meta["backend"] == "ray" and sorted(meta["nodes"]) == ["seed=0", "seed=1"]
    assert set(Path(tempfile.gettempdir()).glob("sgdpotential-ray-*")) <= before  # the factory's folder was removed
    # two runs of several seconds submitted together on two 1-CPU nodes: the second goes where the CPU is free
    assert len(set(meta["nodes"].values())) == 2  # one run on each node (one CPU each)
    assert {n["NodeID"] for n in ray_nodes(cluster)} == set(meta["nodes"].values())
    again = runner.invoke(app, [*args, "--out", "cluster", "--backend", "ray", "--address", cluster.address])
    assert again.exit_code == 0 and "0 run now, 2 already finished" in again.output
    assert json.loads((tmp_path / "cluster" / "sweep.json").read_text())["nodes"] == meta["nodes"]  # kept


def ray_nodes(cluster):
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        return [n for n in ray.nodes() if n["Alive"]]
    finally:
        ray.shutdown()


def test_the_package_and_a_local_factory_travel_in_the_runtime_env(cluster, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "usernet.py").write_text(FACTORY)
    env = runtime_env(["usernet:small", "mlp"])
    assert Path(env["working_dir"], "usernet.py").read_text() == FACTORY  # only the factory's module travels
    assert sorted(p.name for p in Path(env["working_dir"]).iterdir()) == ["usernet.py"]

    def where():
        import os

        import sgdpotential as pkg
        from sgdpotential.nn.models import build_model

        model = build_model("usernet:small", (1, 8, 8), 10)
        return pkg.__file__, os.getcwd(), sum(p.numel() for p in model.parameters())

    ray.init(address=cluster.address, runtime_env=copy.deepcopy(env), include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        files = ray.get([ray.remote(num_cpus=1)(where).remote() for _ in range(2)])
        # joining a cluster while Ray runs in this process is refused: the package could not travel
        r = runner.invoke(app, ["sweep", "--preset", "quick", "--grid", "seed=0", "--backend", "ray",
                                "--address", cluster.address, "--out", str(tmp_path / "s")])
        assert r.exit_code == 2 and "Ray is already running in this process" in " ".join(r.output.split())
        assert not (tmp_path / "s").exists()
    finally:
        ray.shutdown()
        shutil.rmtree(env["working_dir"])
    checkout = Path(sgdpotential.__file__).resolve().parent
    for pkg_file, cwd, n_params in files:
        # imported from Ray's copy of the package on the node, not from this checkout (or its editable install)
        assert not Path(pkg_file).resolve().is_relative_to(checkout), pkg_file
        assert "runtime_resources" in pkg_file
        assert n_params == 64 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10
        assert (Path(cwd) / "usernet.py").exists()


def test_no_cluster_at_the_address_is_one_sentence(tmp_path):
    r = runner.invoke(app, ["sweep", "--preset", "quick", "--grid", "seed=0", "--backend", "ray",
                            "--address", "127.0.0.1:1", "--out", str(tmp_path / "s")])
    assert r.exit_code == 2
    assert "no Ray cluster answers at address = '127.0.0.1:1'" in " ".join(r.output.split())
    assert not (tmp_path / "s").exists()  # refused before anything was written
