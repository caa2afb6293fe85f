"""Dead-unit care for hidden ReLU layers during ``fit`` (``relu_care=True``).

A ReLU unit whose z ≤ 0 on every example outputs 0 and gets zero gradient, so
gradient descent can never bring it back; the lecture's 2-2-1 XOR network gets
stuck this way from most random starts. This module owns the two remedies ``fit``
applies to hidden ReLU layers, and nothing else: networks without ReLU hidden
layers never reach it. ``Network.fit``'s docstring states them for users.
"""

from __future__ import annotations

import math

import numpy as np

from .activations import ReLU

#: A plateau is this many optimiser steps (at least CARE_MIN_EPOCHS epochs) without the
#: training loss falling below (1 − CARE_TOL) × its best since the last re-draw.
CARE_PATIENCE_STEPS = 200
CARE_MIN_EPOCHS = 10
CARE_TOL = 1e-2


def relu_layers(net) -> list[int]:
    """Indices of the hidden layers with a ReLU activation."""
    return [i for i, layer in enumerate(net.layers[:-1]) if isinstance(layer.activation, ReLU)]


class ReluCare:
    """Keeps hidden ReLU units alive and re-draws the least useful one when the loss plateaus.

    * Revive: a unit whose z ≤ 0 on every example of an epoch outputs 0 and gets no
      gradient, so it can never recover. It gets fresh input weights
      (He: N(0, 2/n_in)), bias 0, zero outgoing weights and cleared optimiser
      state. With zero outgoing weights the network computes exactly the same
      function, so reviving never changes the loss.
    * Re-draw: when the training loss has not fallen below (1 − CARE_TOL) × its
      best for a plateau's worth of epochs, the unit with the smallest
      contribution mean(h_j) · ‖W_next[:, j]‖ on the last batch is re-drawn the
      same way. The best parameters since the first re-draw are kept, and put
      back at the end of ``fit`` if the run ended worse.
    """

    def __init__(self, net, opt, state, n_batches):
        self.net, self.opt, self.state = net, opt, state
        self.hidden = relu_layers(net)
        self.alive = {i: np.zeros(net.layers[i].n_out, dtype=bool) for i in self.hidden}
        self.patience = max(CARE_MIN_EPOCHS, math.ceil(CARE_PATIENCE_STEPS / n_batches))
        sizes = [(layer.n_out, layer.n_in) for layer in net.layers]
        self.w_at = np.cumsum([0] + [a * b for a, b in sizes])
        self.b_at = self.w_at[-1] + np.cumsum([0] + [a for a, _ in sizes])
        self._ones = np.ones(0, net.dtype)       # 1 of the batch size, for column sums in track
        self._all_alive = False                  # every unit active at least once this epoch

    def track(self) -> None:
        """After a batch's forward pass: note which units were active on it (nothing to do
        once every unit has been active in this epoch)."""
        if self._all_alive:
            return
        self._all_alive = True
        for i, alive in self.alive.items():
            h = self.net.layers[i].h
            # unit j was active (some z > 0) iff Σₙ hₙⱼ > 0, as h = max(z, 0) ≥ 0: one
            # matrix–vector product, several times cheaper than z.max(axis=0)
            if self._ones.shape[0] != h.shape[0]:
                self._ones = np.ones(h.shape[0], h.dtype)
            alive |= (self._ones @ h) > 0
            self._all_alive = self._all_alive and bool(alive.all())

    def _redraw(self, i: int, units) -> None:
        layer, nxt = self.net.layers[i], self.net.layers[i + 1]
        units = np.asarray(units)
        mask = np.zeros(self.net.n_params, dtype=bool)
        for j in units:
            layer.W[j] = self.state.rng.normal(0.0, math.sqrt(2.0 / layer.n_in), layer.n_in)
            layer.b[j] = 0
            nxt.W[:, j] = 0
            mask[self.w_at[i] + j * layer.n_in: self.w_at[i] + (j + 1) * layer.n_in] = True
            mask[self.b_at[i] + j] = True
            mask[self.w_at[i + 1] + np.arange(nxt.n_out) * nxt.n_in + j] = True
        self.opt.reset_state(mask)

    def end_epoch(self, loss: float) -> None:
        state, net = self.state, self.net
        for i, alive in self.alive.items():
            if not alive.all():
                dead = np.flatnonzero(~alive)
                self._redraw(i, dead)
                state.revived += dead.size
            alive.fill(False)
        self._all_alive = False
        if state.redraws and loss < state.best_loss:
            state.best_loss, state.best_params = loss, net.params.copy()
        if loss < state.care_best * (1 - CARE_TOL):
            state.care_best, state.care_wait = loss, 0
            return
        state.care_wait += 1
        if state.care_wait < self.patience:
            return
        # Plateau: keep the best so far, then re-draw the least contributing unit.
        if loss < state.best_loss:
            state.best_loss, state.best_params = loss, net.params.copy()
        scores = []
        for i in self.hidden:
            h = net.layers[i].h
            contribution = h.mean(axis=0) * np.linalg.norm(net.layers[i + 1].W, axis=0)
            j = int(np.argmin(contribution))
            scores.append((float(contribution[j]), i, j))
        _, i, j = min(scores)
        self._redraw(i, [j])
        state.redraws += 1
        state.care_best, state.care_wait = math.inf, 0

    def finish(self, last_loss: float) -> None:
        """At the end of fit: if the run ended worse than its best, put the best back."""
        state, net = self.state, self.net
        if state.best_params is not None and state.best_loss < last_loss:
            state.resume_params = net.params.copy()
            state.restored_params = state.best_params
            net.params = state.best_params
