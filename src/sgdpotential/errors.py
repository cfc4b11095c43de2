"""The exceptions and warnings of sgdpotential: one ``ValueError`` subclass per layer (see ``_validation``)."""


class DecompositionError(ValueError):
    """Input that would make a stochastic-decomposition or Lyapunov result wrong or undefined.

    Raised at the public boundary of :mod:`sgdpotential.theory` with one sentence that names the
    offending value (shape, entry, eigenvalue) and says how to fix it. It subclasses ``ValueError``
    so generic ``except ValueError`` handlers keep working.
    """


class ConfigError(ValueError):
    """A bad dataset, model, training or store setting.

    The message is one sentence naming the value and the fix; the command line prints it and exits
    with code 2.
    """


class TrainingDiverged(ConfigError):
    """SGD produced a non-finite loss; the message names the step and suggests a smaller learning rate."""


class ModelModeWarning(UserWarning):
    """The model's training-mode output depends on the rest of the minibatch or on randomness (BatchNorm,
    Dropout): the probes evaluate it in eval mode, which is not the process SGD trained."""
