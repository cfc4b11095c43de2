"""Replica ensembles: R seeds of one configuration trained together (:func:`run_replicas`), and statistics over
runs that differ only in their seed (:func:`ensemble_summary`): ψ with an error bar across runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .._atomic import write_json_atomic
from ..claims import group_warnings
from ..errors import ConfigError
from .config import with_overrides
from .findings import mean_and_interval as _mean_and_interval
from .findings import over_seeds
from .network import analysable, build_network
from .rundir import RunDir
from .stages import NO_PAGES, Pages
from .sweep import run_group

__all__ = ["VARY", "ensemble_summary", "replica_configs", "run_replicas"]


def _by(summaries: list[dict], rows_of, key: str) -> dict:
    """ψ (Feng & Tu's and held out) per value of ``key`` (K or age) present in every run, each over the runs."""
    tables = [{r[key]: r for r in rows_of(s)} for s in summaries]
    shared = sorted(set.intersection(*(set(t) for t in tables))) if tables else []
    out = {}
    for v in shared:
        out[str(v)] = {}
        for way in ("feng_tu", "heldout"):
            values = [((t[v].get(way) or {}).get("psi")) for t in tables]
            values = [x for x in values if x is not None]
            out[str(v)][way] = _mean_and_interval(values) if values else None
    return out


def ensemble_summary(out_dir, run_dirs) -> dict:
    """Combine the ``summary.json`` of replica runs into ``out_dir/ensemble.json``.

    Per quantity (ψ Feng & Tu's way and held out, ψ at each K of the K-scan and at each age, the sample-spectrum
    band medians (measured/simulated, relaxation index ≥ 1, 10, 100), the total variance, the PC1 share, the
    exponents of H_P,ii and C_P,ii against F_i, the median predicted/measured σ² of the continuous and
    finite-window laws, and — when every run has a model ladder — ψ of each replay rung): the per-run values,
    their mean, standard deviation, standard error and the 95% Student-t interval of the mean. Run-to-run spread
    is the honest error bar of a seed ensemble; the within-run bootstrap intervals of ``summary.json`` are not.
    Also ``findings`` (every claim measured in every run, judged on its run-to-run interval, with the verdict on
    whether the seed moves it: :func:`~sgdpotential.pipeline.findings.over_seeds`), ``warnings`` (the runs'
    named warnings with the runs each concerns) and ``provenance`` (each run's recording, the analysis versions).
    """
    out_dir = Path(out_dir)
    runs = [Path(d) for d in run_dirs]
    missing = [str(d) for d in runs if not (d / RunDir.SUMMARY).exists()]
    if missing:
        raise ConfigError(f"{missing[0]!r} has no summary.json; finish the replica runs first.")
    summaries = [json.loads((d / RunDir.SUMMARY).read_text()) for d in runs]

    def collect(get) -> dict | None:
        values = [get(s) for s in summaries]
        values = [v for v in values if v is not None]
        return _mean_and_interval(values) if values else None

    def exponent(key):
        return lambda s: (s["exponents"].get(key) or {}).get("exponent")

    result = {
        "schema": "sgdpotential.ensemble/1",
        "runs": [d.name for d in runs],
        "seeds": [s["config"]["train"].get("seed") for s in summaries],
        "model_seeds": [s["config"].get("model_seed") for s in summaries],
        "psi": collect(lambda s: s["ivf"]["psi"]),
        "total_variance": collect(lambda s: s["pca"]["total_variance"]),
        "pc1_ratio": collect(lambda s: s["pca"]["pc1_ratio"]),
        "hessian_diag_vs_flatness": collect(exponent("hessian_diag_vs_flatness")),
        "noise_diag_vs_flatness": collect(exponent("noise_diag_vs_flatness")),
        "continuous_median_ratio": collect(lambda s: s["lyapunov"].get("continuous", {}).get("median_ratio")),
        "window_median_ratio": collect(lambda s: s["lyapunov"].get("window_from_w0", {}).get("median_ratio")),
    }
    result["psi_heldout"] = collect(lambda s: (s.get("heldout") or {}).get("ivf_psi"))
    result["psi_by_k"] = _by(summaries, lambda s: (s.get("k_scan") or {}).get("rows", []), "k")
    result["psi_by_age"] = _by(summaries, lambda s: (s.get("ages") or {}).get("rows", []), "age")
    for key in ("sample_spectrum", "sample_spectrum_replay"):  # the replayed one: None unless replay_paths
        result[key] = {
            str(lo): collect(lambda s, lo=lo, key=key: next((b["median_ratio"] for b in (s.get(key) or {}).get(
                "bands", []) if b["relaxation"][0] == lo and b["n"] >= 3), None)) for lo in (1.0, 10.0, 100.0)}
    if all((d / RunDir.LADDER).exists() for d in runs):
        ladders = [json.loads((d / RunDir.LADDER).read_text()) for d in runs]
        result["ladder_psi"] = {}
        for name in [r["name"] for r in ladders[0]["rungs"]]:
            values = [next((r.get("psi") for r in lad["rungs"] if r["name"] == name), None) for lad in ladders]
            values = [v for v in values if v is not None]
            if values:
                result["ladder_psi"][name] = _mean_and_interval(values)
    result["findings"] = over_seeds([s.get("findings") or {"claims": []} for s in summaries], result["runs"])
    result["warnings"] = group_warnings([(n, [w["name"] for w in s.get("warnings", [])])
                                         for n, s in zip(result["runs"], summaries, strict=True)])
    result["provenance"] = {"record": [(s.get("provenance") or {}).get("record") for s in summaries],
                            "analysis": (summaries[0].get("provenance") or {}).get("analysis")}
    write_json_atomic(out_dir / RunDir.ENSEMBLE, result)
    return result


#: What replicas of ``run --replicas`` differ in: the minibatch seed, the initialisation, or both.
VARY = ("sampler", "init", "both")


def replica_configs(config, replicas: int, vary: str = "sampler") -> tuple[list, list[str]]:
    """The configurations of ``replicas`` replicas of ``config`` and their run-directory names.

    ``vary = "sampler"``: minibatch seeds seed, seed + 1, … from one initialisation (``seed=<s>``);
    ``"init"``: initialisations model_seed, model_seed + 1, … with one minibatch seed (``init=<m>``);
    ``"both"``: replica i has both seeds + i (``seed=<s>_init=<m>``) — independent runs, the interval that covers
    initialisation and sampling alike.
    """
    if vary not in VARY:
        raise ConfigError(f"vary = {vary!r} is not one of {', '.join(VARY)} (what the replicas differ in: the "
                          "minibatch seed, the initialisation or both).")
    seed0, init0 = config.train.get("seed", 0), config.model_seed
    configs, names = [], []
    for i in range(replicas):
        seed = seed0 + i if vary in ("sampler", "both") else seed0
        init = init0 + i if vary in ("init", "both") else init0
        configs.append(with_overrides(config, seed=seed, model_seed=init))
        names.append({"sampler": f"seed={seed}", "init": f"init={init}", "both": f"seed={seed}_init={init}"}[vary])
    return configs, names


def run_replicas(config, out, replicas: int, *, vary: str = "sampler", resume: bool = False,
                 with_ladder: bool = False, progress=None, pages: Pages = NO_PAGES) -> tuple[list[Path], dict]:
    """Train ``replicas`` replicas of ``config`` together (:func:`replica_configs`: they differ in their minibatch
    seed, their initialisation or both), run every other stage of each in its own folder under ``out``, and write
    ``out/ensemble.json``; returns the run directories and the ensemble summary.

    Every replica's settings are validated before anything is written. A batch that fails as a whole (e.g.
    SGD diverged) leaves no folder behind; :class:`ConfigError` names the first failed replica. ``pages``
    (``sgdpotential.report.PAGES``) writes each run's report and ``out/ensemble.html``.
    """

    out = Path(out)
    configs, names = replica_configs(config, replicas, vary)
    if not resume and out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {str(out)!r} is not empty; choose a new --out or pass --resume.")
    if not out.parent.is_dir():
        raise ConfigError(f"the parent folder of {str(out)!r} does not exist; create it first.")
    dirs = [out / n for n in names]
    from ..dynamics.replicas import check_replicable

    net = build_network(configs[0])  # the replicas differ only in their seeds: one check validates them all
    check_replicable(net.model, net.train)
    analysable(configs[0])
    created = not out.exists()
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {str(out)!r} ({exc.strerror or exc}); choose another --out.") from exc
    results = run_group([c.to_dict() for c in configs], [str(d) for d in dirs], with_ladder, None, progress, pages)
    failed = [(d, r) for d, r in zip(dirs, results, strict=True) if r["status"] != "done"]
    if failed and len(failed) == replicas and created:
        shutil.rmtree(out)  # nothing came of it (e.g. SGD diverged): leave no half-written folder behind
    if failed:
        raise ConfigError(f"{len(failed)} of {replicas} replicas failed; first: {failed[0][0].name}: "
                          f"{failed[0][1]['error']}")
    summary = ensemble_summary(out, dirs)
    if pages.ensemble is not None:
        pages.ensemble(out)
    return dirs, summary
