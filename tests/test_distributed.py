"""mlp.distributed.fit: 2 gloo workers equal one process; a dead worker and bad input are one line.

Tiny data and short timeouts: each spawn costs a few seconds (two fresh interpreters import
torch), so the file spawns three times, and one spawn serves two tests (a module fixture).
"""

import os
import signal
import socket
import time

import numpy as np
import pytest

import mlp

torch = pytest.importorskip("torch")
distributed = pytest.importorskip("mlp.distributed")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(203, 6)).astype(np.float32)
Y = RNG.integers(0, 3, 203)
OPTIONS = dict(batch_size=32, seed=1, optimizer="adam", lr=0.01, dropout=0.1, validation_split=0.1,
               weight_decay=1e-3, clip_norm=1.0)


def _net():
    return mlp.Network.from_sizes([6, 16, 8, 3], hidden="relu", output="softmax", seed=3)


class KillRank(mlp.callbacks.Callback):
    """SIGKILL this process at the end of ``epoch`` if it is rank ``rank`` (a worker dying)."""

    def __init__(self, rank, epoch):
        self.rank, self.epoch = rank, epoch

    def on_epoch_end(self, epoch, history):
        if epoch == self.epoch and torch.distributed.get_rank() == self.rank:
            os.kill(os.getpid(), signal.SIGKILL)


class InterruptRank(mlp.callbacks.Callback):
    """Ctrl-C (SIGINT) to this process after batch ``batch`` if it is rank ``rank``."""

    def __init__(self, rank, batch):
        self.rank, self.batch, self.seen = rank, batch, 0

    def on_batch_end(self, batch, loss):
        self.seen += 1
        if self.seen == self.batch and torch.distributed.get_rank() == self.rank:
            os.kill(os.getpid(), signal.SIGINT)


class StopAfter(mlp.callbacks.Callback):
    """Ctrl-C in one process: stop after batch ``batch``."""

    def __init__(self, batch):
        self.batch, self.seen = batch, 0

    def on_batch_end(self, batch, loss):
        self.seen += 1
        if self.seen == self.batch:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def three_epochs():
    """One process and 2 gloo workers, 3 epochs each (one spawn, shared by the two tests below): the
    figures right after, and both networks, which the resume test trains on."""
    one = _net()
    one.fit(X, Y, epochs=3, engine="torch", **OPTIONS)
    two = _net()
    history = distributed.fit(two, X, Y, nproc=2, epochs=3, timeout=60, **OPTIONS)
    seen = {"params": (two.params.copy(), one.params.copy()), "history": (history, one.history),
            "steps": (two.train_state.epoch, two.train_state.optimizer.t, one.train_state.optimizer.t)}
    return one, two, seen


def test_two_gloo_workers_equal_one_process(three_epochs):
    _, _, seen = three_epochs
    (two, one), (history, ref) = seen["params"], seen["history"]
    np.testing.assert_allclose(two, one, rtol=0, atol=1e-5)
    np.testing.assert_allclose(history.loss, ref.loss, rtol=0, atol=1e-5)
    np.testing.assert_allclose(history.val_loss, ref.val_loss, rtol=0, atol=1e-5)
    assert history.metrics["accuracy"] == ref.metrics["accuracy"]
    epoch, t_two, t_one = seen["steps"]
    assert epoch == 3 and t_two == t_one


def test_a_resumed_run_goes_on_and_stops_after_the_same_batch_on_every_rank(three_epochs):
    one, two, _ = three_epochs
    # the run goes on where it was; a Ctrl-C on rank 1 after batch 9 of this call reaches rank 0 at the
    # next all-reduce: both stop after batch 10, as one process stopped after batch 10
    one.fit(X, Y, epochs=3, engine="torch", callbacks=[StopAfter(10)], **OPTIONS)
    history = distributed.fit(two, X, Y, nproc=2, epochs=3, timeout=60, callbacks=[InterruptRank(1, 9)],
                              **OPTIONS)
    assert history.stop_reason == one.history.stop_reason == "interrupted"
    assert two.train_state.step == one.train_state.step == 3 * 6 + 10
    np.testing.assert_allclose(two.params, one.params, rtol=0, atol=1e-5)


def test_a_killed_worker_stops_the_run_with_one_line_and_leaves_the_network():
    net = _net()
    before = net.params.copy()
    t = time.monotonic()
    with pytest.raises(distributed.WorkerFailed, match=r"^worker 1 of 2 died \(killed by signal SIGKILL\); "
                                                       "training stopped and the network is unchanged$"):
        distributed.fit(net, X, Y, nproc=2, epochs=50, timeout=20, callbacks=[KillRank(1, 2)], **OPTIONS)
    assert time.monotonic() - t < 120
    np.testing.assert_array_equal(net.params, before)
    assert net.train_state is None


def test_bad_launches_are_refused_before_anything_starts():
    with pytest.raises(ValueError, match="nproc must be an int >= 1, got 0"):
        distributed.fit(_net(), X, Y, nproc=0)
    with pytest.raises(ValueError, match="node_rank must be in 0 … nnodes − 1 = 1, got 2"):
        distributed.fit(_net(), X, Y, nnodes=2, node_rank=2, master_port=29500)
    with pytest.raises(ValueError, match="several machines need --master-port"):
        distributed.fit(_net(), X, Y, nnodes=2, node_rank=1)
    with pytest.raises(ValueError, match="trains with engine='torch'"):
        distributed.fit(_net(), X, Y, engine="numpy")


def test_an_unreachable_master_is_one_message_within_the_timeout():
    with socket.socket() as s:                     # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.monotonic()
    with pytest.raises(ValueError, match=rf"cannot reach the master at 127\.0\.0\.1:{port} within 1 s"):
        distributed.fit(_net(), X, Y, nnodes=2, node_rank=1, master_addr="127.0.0.1", master_port=port,
                        timeout=1)
    assert time.monotonic() - t < 5
