"""Figures and the self-contained HTML pages of runs, ensembles and sweeps (reads the run directories; computes
nothing new). :data:`PAGES` hands the page writers to the pipeline, which never imports this layer."""

from ..pipeline.stages import Pages
from .ensemble import make_ensemble_report
from .html import make_report
from .sweep import sweep_report

#: The pages of a run, an ensemble and a sweep, for :func:`~sgdpotential.pipeline.stages.run_stages`,
#: :func:`~sgdpotential.pipeline.ensemble.run_replicas` and :func:`~sgdpotential.pipeline.sweep.sweep`.
PAGES = Pages(run=make_report, ensemble=make_ensemble_report, sweep=sweep_report)

__all__ = ["PAGES", "make_ensemble_report", "make_report", "sweep_report"]
