"""A training run that kills itself (SIGKILL, no cleanup) at a chosen moment; used by test_training.py.

    python tests/train_child.py STORE MODE      MODE: burn-in | after-chunk | before-checkpoint | none
"""

import os
import signal
import sys

from sgdpotential import TrainConfig, build_mlp, load_dataset, train
from sgdpotential.dynamics import training as training_module

CONFIG = dict(lr=0.05, batch_size=32, burn_in_epochs=3, window_steps=300, stride=1, seed=5)
CHUNK_ROWS = 32


def run(store, mode="none", resume=False):
    net = build_mlp([64, 16, 16, 10], seed=1)
    saves = {"window": 0}

    def progress(phase, done, total):
        if mode == "burn-in" and phase == "burn-in" and done == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "after-chunk" and phase == "window" and done >= 3 * CHUNK_ROWS:
            os.kill(os.getpid(), signal.SIGKILL)

    if mode == "before-checkpoint":  # the chunk is committed to the store, its checkpoint never written
        real = training_module._save_checkpoint

        def dying(path, state):
            if state["phase"] == "window" and state.get("committed", 0) > 0:
                saves["window"] += 1
                if saves["window"] == 4:
                    os.kill(os.getpid(), signal.SIGKILL)
            real(path, state)

        training_module._save_checkpoint = dying
    return train(net, load_dataset("digits"), TrainConfig(**CONFIG), store, params="all", resume=resume,
                 progress=progress, chunk_rows=CHUNK_ROWS, checkpoint_seconds=0)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
