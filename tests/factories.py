"""Model factories for the tests of ``model = "package.module:factory"`` (importable: tests/ is on the path)."""

from torch import nn


def tiny_cnn(sample_shape, n_classes):
    """A small CNN with GroupNorm: images in, logits out."""
    c, h, w = sample_shape
    return nn.Sequential(nn.Conv2d(c, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * h * w, n_classes))


def not_a_module(sample_shape, n_classes):
    return "a string"


def broken(sample_shape, n_classes):
    raise ValueError("needs colour images")


class _Noisy(nn.Module):
    """Random even in eval mode: per-sample losses are undefined."""

    def __init__(self, d, n_classes):
        super().__init__()
        self.fc = nn.Linear(d, n_classes)

    def forward(self, x):
        import torch

        return self.fc(x.flatten(1)) + torch.randn(x.shape[0], self.fc.out_features)


def noisy(sample_shape, n_classes):
    import math

    return _Noisy(math.prod(sample_shape), n_classes)


NOT_CALLABLE = 3


def wrong_input(sample_shape, n_classes):
    """A forward that breaks on the data set's shape: a linear layer sized for 3-channel 32×32 images."""
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, n_classes))


def wrong_output(sample_shape, n_classes):
    """Runs, but returns one score too many per sample."""
    import math

    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(sample_shape), n_classes + 1))
