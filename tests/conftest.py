import os

os.environ.setdefault("MPLBACKEND", "Agg")


import mlp  # noqa: E402


class InterruptingMSE(mlp.MSE):
    """MSE whose value raises KeyboardInterrupt (as Ctrl-C would) on its k-th call."""

    def __init__(self, k):
        super().__init__()
        self.k, self.calls = k, 0

    def value(self, y_hat, y, sample_weight=None):
        self.calls += 1
        if self.calls == self.k:
            raise KeyboardInterrupt
        return super().value(y_hat, y, sample_weight)
