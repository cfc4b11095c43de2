"""Settings shared by the session fixtures (conftest.py) and the tests that reproduce them."""

#: The quick sweep of the session fixture ``quick_sweep``: 3 learning rates × 3 batch sizes × 2 seeds.
QUICK_GRID = ["--grid", "lr=0.05,0.1,0.2", "--grid", "batch_size=16,32,64", "--grid", "seed=0,1"]
