"""The per-sample losses a run may use, by name — torch-free, so that a configuration is checked against them without
loading torch; :func:`~sgdpotential.nn.objective.per_sample_loss` computes them."""

__all__ = ["LOSSES"]

#: Cross-entropy on the logits (classification) or squared error on one-hot targets (``mse``: a linear model's loss
#: is then exactly quadratic).
LOSSES = ("cross_entropy", "mse")
