"""The run pipeline: configurations and presets (:mod:`.config`), what a configuration builds (:mod:`.network`),
the run directory (:mod:`.rundir`), the ordered stages (:mod:`.stages`) — recording (:mod:`.record`), probes
and analysis (:mod:`.analysis`), the model ladder (:mod:`.ladder`) — and what runs many of them: replica
ensembles (:mod:`.ensemble`, :mod:`.replicas`) and sweeps (:mod:`.sweep`)."""
