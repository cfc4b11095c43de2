"""Small float64 problems with exact answers for the probe tests."""

import numpy as np
import pytest
import torch

from sgdpotential.nn.data import Dataset
from sgdpotential.nn.models import build_mlp
from sgdpotential.nn.objective import Objective


def make_data(n=40, d=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = torch.tensor(rng.standard_normal((n, d)))
    y = torch.tensor(rng.integers(0, classes, n))
    return Dataset(X, y, "synthetic", classes, "as given")


@pytest.fixture
def linear_ls():
    """Linear model W (3×5), squared error against one-hot targets, at its least-squares minimum.

    Closed forms: g_k = vec(r_k x_kᵀ) with r_k = W x_k − e_{y_k}; H = I_3 ⊗ (XᵀX/N)."""
    data = make_data()
    net = build_mlp([5, 3], bias=False).double()
    X, Y = data.X.numpy(), np.eye(3)[data.y.numpy()]
    W = np.linalg.solve(X.T @ X, X.T @ Y).T  # (3, 5)
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor(W))
    obj = Objective(net, data, "all", loss="mse", chunk=7)  # odd chunk: results must not depend on it
    R = X @ W.T - Y
    G = np.einsum("ko,kj->koj", R, X).reshape(len(X), -1)
    H = np.kron(np.eye(3), X.T @ X / len(X))
    L0 = 0.5 * np.mean(np.sum(R**2, axis=1))
    return obj, torch.tensor(W.reshape(-1)), G, H, L0, X


@pytest.fixture
def small_mlp():
    data = make_data(n=30, d=5, classes=3, seed=1)
    net = build_mlp([5, 4, 3], activation="tanh", seed=2).double()
    obj = Objective(net, data, "all", chunk=8)
    return obj, obj.w_base.clone()


def orthonormal_directions(n, k, seed=0):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, k)))
    return torch.tensor(Q.T.copy())
