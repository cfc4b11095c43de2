"""Everything that steps weights: the optimizer factory (:mod:`.optimizers`), the minibatch sampler
(:mod:`.sampler`), the burn-in policy and window recorder they share (:mod:`.recorder`), training
(:mod:`.training`), vectorised replicas (:mod:`.replicas`) and linearized replays (:mod:`.replay`)."""
