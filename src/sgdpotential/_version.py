"""The package version: one home, imported by the API facade and by everything that records provenance."""

__version__ = "0.1.0"
