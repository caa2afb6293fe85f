"""Issue 14: what a new user of the command line and of model files hit (each test fails on the
code before its fix)."""

import pytest

import mlp
from mlp import demo


class _Stop(Exception):
    pass


def test_demo_digits_shows_no_bar_in_a_redirected_log(monkeypatch):
    """`make demo > log` wrote tqdm frames into the log: the bar is shown only on a terminal."""
    seen = {}

    def fake_fit(self, X, y, **kwargs):
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(mlp.Network, "fit", fake_fit)
    with pytest.raises(_Stop):
        demo.digits(print=lambda *a: None)
    assert seen["progress"] is None      # fit's rule: a bar only when stderr is a terminal
