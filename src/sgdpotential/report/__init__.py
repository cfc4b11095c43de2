"""Figures and the self-contained HTML report of a run (reads the run directory; computes nothing new)."""

from .html import make_report

__all__ = ["make_report"]
