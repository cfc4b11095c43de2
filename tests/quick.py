"""Settings shared by the session fixtures (conftest.py) and the tests that reproduce them."""

#: The quick sweep of the session fixture ``quick_sweep``: 2 learning rates × 2 batch sizes (three values of α/B for
#: the variance slope) at one seed; the tests that read it take its size from here.
QUICK_AXES = {"lr": ("0.05", "0.2"), "batch_size": ("16", "64"), "seed": ("1",)}
QUICK_GRID = [arg for axis, values in QUICK_AXES.items() for arg in ("--grid", f"{axis}={','.join(values)}")]
QUICK_RUNS = len(QUICK_AXES["lr"]) * len(QUICK_AXES["batch_size"]) * len(QUICK_AXES["seed"])
