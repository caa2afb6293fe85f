"""`mlp xor`: the lecture's XOR story prints the right numbers and writes its figures."""

import numpy as np
import pytest

import mlp
from mlp import xor_story


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    out = tmp_path_factory.mktemp("xor")
    lines = []
    result = xor_story.run(out, print=lambda *a: lines.append(" ".join(map(str, a))), animation=False)
    return out, "\n".join(lines), result


def test_the_numbers_of_each_step(story):
    _, _, r = story
    np.testing.assert_allclose(r["linear"], [0.5] * 4, atol=1e-12)      # no line separates XOR
    np.testing.assert_array_equal(r["hand_made"], [0, 1, 1, 0])         # the hand-made ReLU net
    np.testing.assert_allclose(r["collapsed"], [2, 1, 1, 0])            # ŷ = 2 − x1 − x2 without ReLU
    assert r["seed"] is not None and r["seed"] not in r["failed_seeds"]
    np.testing.assert_allclose(r["trained"], [0, 1, 1, 0], atol=0.1)    # gradient descent solved it
    assert r["symbolic_error"] < 1e-9


def test_the_printed_story(story):
    out, text, r = story
    for expected in ["0.5 everywhere", "h1 = relu(W(1) x + b(1))",
                     "x = (0, 1)  →  h = [0, 1]  →  ŷ = 1", "x = (1, 0)  →  h = [0, 1]  →  ŷ = 1",
                     "W = W(2) W(1) = [-1, -1],  b = W(2) b(1) + b(2) = [2]",
                     "∂ŷ/∂w1 = w5*x1*σ′(b1 + w1*x1 + w2*x2)",
                     "0 if b1 + w1*x1 + w2*x2 ≤ 0;  w5*x1 if b1 + w1*x1 + w2*x2 > 0",
                     r"\sigma'\left(", "max |symbolic − backprop|", "Figures:"]:
        assert expected in text, expected
    for seed in r["failed_seeds"]:
        assert f"seed {seed}: stuck at" in text
    if r["fit_from_stuck"] is not None:
        assert f"from the stuck seed {r['failed_seeds'][0]}" in text
    for path in r["figures"]:
        assert str(path) in text


def test_the_figures(story):
    out, _, r = story
    names = sorted(p.name for p in r["figures"])
    assert names == sorted(["xor_linear.png", "xor_hand_boundary.png", "xor_hidden_space.png",
                            "xor_network.png", "xor_trained_boundary.png",
                            "xor_trained_hidden_space.png", "xor_loss.png"])
    image = pytest.importorskip("matplotlib.image")
    for path in r["figures"]:
        assert path.parent == out and path.read_bytes()[:4] == b"\x89PNG"
        img = image.imread(path)[..., :3]
        assert img.shape[0] > 200 and img.shape[1] > 200
    # the hand-made boundary shows both classes' colours; the linear one neither (white: ŷ = 0.5)
    hand = image.imread(out / "xor_hand_boundary.png")[..., :3]
    linear = image.imread(out / "xor_linear.png")[..., :3]
    orange = lambda img: np.mean(img[..., 0] > img[..., 2] + 0.2)   # noqa: E731
    blue = lambda img: np.mean(img[..., 2] > img[..., 0] + 0.2)     # noqa: E731
    assert orange(hand) > 0.1 and blue(hand) > 0.1
    assert orange(linear) < 0.01 and blue(linear) < 0.01


def test_cli_and_demo_call_the_story(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(xor_story, "run", lambda out, print=print, **kw: calls.append(str(out)) or {})
    from mlp import cli
    assert cli.main(["xor", "--out", str(tmp_path / "x")]) == 0
    assert calls == [str(tmp_path / "x")]
    from mlp import demo
    monkeypatch.setattr(demo, "lecture", lambda print=print: None)
    demo.main(None)
    assert calls[-1] == "mlp-out/xor"


def test_without_figures(tmp_path):
    r = xor_story.run(tmp_path / "none", print=lambda *a: None, figures=False)
    assert r["figures"] == [] and not (tmp_path / "none").exists()
    assert isinstance(mlp.xor_story.hand_made_net(), mlp.Network)
