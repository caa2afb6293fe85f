"""The playground in a real headless Chromium (Playwright), compared with mlp called in-process.

Each test reads the page's numbers (``data-*`` attributes, /api/state) and pixels
(canvas ``getImageData``; the heatmap is drawn opaque) and checks them against mlp
on the same seeds. ``MLP_UPDATE_SCREENSHOTS=1`` also writes the screenshots shown in
README under docs/playground/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlp
from mlp.playground import problems

from .conftest import DOCS
from .test_server import reference


def open_page(page, server, fragment: str = ""):
    page.goto(server.url + (("#" + fragment) if fragment else ""))
    page.wait_for_selector("body[data-ready='1']")


def state(page):
    return page.evaluate("""async () => (await fetch('/api/state',
        {headers: {'X-MLP-Token': new URLSearchParams(location.search).get('token')}})).json()""")


def epoch(page) -> int:
    return int(page.get_attribute("#epoch", "data-epoch"))


def step(page, n: int):
    for _ in range(n):
        before = epoch(page)
        page.click("#step")
        page.wait_for_function(f"Number(document.getElementById('epoch').dataset.epoch) > {before}")


def settle(page):
    """Wait until the page has drawn the server's latest state (no request in flight)."""
    page.wait_for_timeout(100)
    page.wait_for_function("document.body.dataset.playing !== '1' && document.body.dataset.busy === '0'")
    page.wait_for_timeout(100)


def shot(page, name, selector=None):
    if os.environ.get("MLP_UPDATE_SCREENSHOTS"):
        (DOCS / "playground").mkdir(parents=True, exist_ok=True)
        path = str(DOCS / "playground" / f"{name}.png")
        if selector:
            page.locator(selector).screenshot(path=path)
        else:
            page.screenshot(path=path, full_page=True)


def pixel(page, canvas: str, x: int, y: int):
    return page.evaluate(f"""() => Array.from(document.querySelector('{canvas}').getContext('2d')
        .getImageData({x}, {y}, 1, 1).data)""")


# -- 5, 4, 6, 7: Step equals fit; the heatmap's colours are the library's ŷ ---------------------

@pytest.mark.parametrize("fragment,config", [
    ("", {}),
    ("data=spirals&classes=3&loss=cross_entropy&opt=adam&lr=0.01&h=6,5&act=relu,leaky_relu&batch=16&l2=0.001",
     {"data": "spirals", "classes": 3, "loss": "cross_entropy", "opt": "adam", "lr": 0.01, "h": "6,5",
      "act": "relu,leaky_relu", "batch": 16, "l2": 0.001}),
])
def test_step_clicks_equal_fit_and_heatmap_has_the_sign_of_y_hat(page, server, fragment, config):
    open_page(page, server, fragment)
    step(page, 4)
    st = state(page)
    net, Xf, y = reference(config, 4)
    np.testing.assert_allclose(st["params"], net.params, rtol=0, atol=1e-6)
    settle(page)
    G = st["frame"]["G"]
    x0, x1, y0, y1 = st["frame"]["domain"]
    feats = st["config"]["f"].split(",")
    checked = 0
    for r in range(2, G, 7):
        for c in range(3, G, 7):
            pt = np.array([[x0 + (c + 0.5) * (x1 - x0) / G, y1 - (r + 0.5) * (y1 - y0) / G]])
            out = net(problems.features(pt, feats))[0]
            px = pixel(page, "#heatmap", int((c + 0.5) * 300 / G), int((r + 0.5) * 300 / G))
            assert px[3] == 255                                       # drawn opaque
            if out.shape[0] == 1:
                if abs(out[0] - 0.5) < 0.02:
                    continue
                assert (px[2] > px[0]) == (out[0] > 0.5), (r, c, out, px)   # blue: class 1
            else:
                k = int(out.argmax())
                colours = [(245, 147, 34), (8, 119, 189), (46, 160, 67)]
                if np.sort(out)[-1] - np.sort(out)[-2] < 0.05:
                    continue
                dist = [sum((a - b) ** 2 for a, b in zip(px[:3], col)) for col in colours]
                # the pixel is the class colour mixed with white: closest in hue to class k
                hue = [np.corrcoef(np.array(px[:3]) - 255, np.array(col) - 255)[0, 1] for col in colours]
                assert int(np.argmax(hue)) == k, (r, c, out, px, dist)
            checked += 1
    assert checked > 30
    # metrics: the page's accuracy is the library's
    acc = float(page.get_attribute("#metrics", "data-train-acc"))
    pred = net(Xf)
    pred = pred.argmax(axis=1) if pred.shape[1] > 1 else (pred[:, 0] > 0.5)
    assert acc == pytest.approx(float(np.mean(pred == y)), abs=1e-12)
    conf = json.loads(page.get_attribute("table.confusion", "data-matrix"))
    assert sum(map(sum, conf)) == len(st["data"]["test"])


def test_play_pause_reset_new_weights_and_stop_conditions(page, server):
    open_page(page, server, "stop=23")
    initial = state(page)["params"]
    page.click("#play")
    page.wait_for_function("document.body.dataset.playing === '0'")       # stopped by itself at 23
    settle(page)
    assert epoch(page) == 23 and page.text_content("#play") == "Play"
    net, _, _ = reference({"stop": 23}, 23)
    np.testing.assert_allclose(state(page)["params"], net.params, rtol=0, atol=1e-6)
    page.click("#reset")
    page.wait_for_function("document.getElementById('epoch').dataset.epoch === '0'")
    assert state(page)["params"] == initial                              # the same initial weights
    page.click("#new-weights")
    page.wait_for_function("location.hash.includes('wseed=2')")
    settle(page)
    assert state(page)["params"] != initial
    # Play then Pause; a target loss stops by itself
    page.select_option("#loss", "bce")
    page.fill("#stop", "0")
    page.dispatch_event("#stop", "change")
    page.fill("#target", "0.3")
    page.dispatch_event("#target", "change")
    page.wait_for_function("location.hash.includes('target=0.3')")
    page.click("#play")
    page.wait_for_function("document.body.dataset.playing === '0'", timeout=180000)
    settle(page)
    st = state(page)
    assert st["frame"]["banner"]["message"].startswith("target loss 0.3 reached")
    page.click("#reset")
    page.wait_for_function("document.getElementById('epoch').dataset.epoch === '0'")
    page.fill("#target", "0")
    page.dispatch_event("#target", "change")
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('epoch').dataset.epoch) > 5")
    page.click("#play")
    settle(page)
    e = epoch(page)
    page.wait_for_timeout(300)
    assert epoch(page) == e and page.get_attribute("#play", "aria-pressed") == "false"


# -- 1, 2, 3, 8: data, features, layers, URL state, classroom mode --------------------------------

def test_data_features_layers_and_url_state(page, server):
    open_page(page, server)
    blank = page.evaluate("""() => [...document.querySelectorAll('#problems canvas')].map(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 250 || d[i + 2] < 250) n++; return n; })""")
    assert len(blank) == len(problems.PROBLEMS) and min(blank) > 10           # every thumbnail drawn
    page.click("[data-problem=xor]")
    page.wait_for_function("location.hash.includes('data=xor')")
    page.fill("#noise", "25")
    page.dispatch_event("#noise", "change")
    page.fill("#ratio", "70")
    page.dispatch_event("#ratio", "change")
    page.wait_for_function("location.hash.includes('ratio=70')")
    st = state(page)
    X, y, _ = problems.make("xor", 500, 25, 1)
    assert np.allclose(st["data"]["train"], X[:350].round(6)) and len(st["data"]["test"]) == 150
    page.click("#regenerate")
    page.wait_for_function("location.hash.includes('dseed=2')")
    assert not np.allclose(state(page)["data"]["train"], X[:350].round(6))
    # features and layers: typed neuron counts above TF's cap of 8, per-layer activations
    page.check("#feat-x1sq")
    page.wait_for_function("location.hash.includes('x1sq')")
    page.click("#add-layer")
    page.wait_for_function("document.querySelectorAll('#layers .layer-row').length === 3")
    page.fill("#units-3", "12")
    page.dispatch_event("#units-3", "change")
    page.wait_for_function("location.hash.includes('h=4%2C2%2C12')")
    page.select_option("#act-2", "leaky_relu")
    page.wait_for_function("location.hash.includes('leaky_relu')")
    settle(page)
    assert page.locator(".node[data-layer='0']").count() == 3
    assert page.locator(".node[data-layer='3']").count() == 12
    acts = [layer["act"] for layer in state(page)["frame"]["layers"]]
    assert acts == ["tanh", "leaky_relu", "tanh", "tanh"]
    # reload: the URL holds the state
    url = page.url
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    st = state(page)
    assert st["config"]["h"] == "4,2,12" and st["config"]["f"] == "x1,x2,x1sq" and st["config"]["dseed"] == 2
    assert page.input_value("#units-3") == "12" and page.input_value("#noise") == "25"
    # classroom mode hides the chosen controls
    page.click("#classroom summary")
    page.check("#hide-optimizer")
    page.wait_for_function("location.hash.includes('hide=optimizer')")
    assert not page.is_visible("#lr") and page.is_visible("#l1")


# -- 9: your own data ----------------------------------------------------------------------------

def test_csv_upload_click_to_add_and_a_hostile_csv(page, server, tmp_path):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(120, 2)) * [10, 200] + [50, 1000]
    t = (A[:, 0] - 50 > 0).astype(int)
    csv = tmp_path / "mine.csv"
    csv.write_text("height,weight,noise,label\n" + "\n".join(
        f"{a:.4f},{b:.4f},{rng.normal():.3f},{c}" for (a, b), c in zip(A, t)))
    open_page(page, server)
    page.set_input_files("#csv-file", str(csv))
    page.wait_for_function("location.hash.includes('data=csv')")
    page.select_option("#cx2", "1")
    page.select_option("#ct", "3")
    page.wait_for_function("location.hash.includes('ct=3')")
    st = state(page)
    assert len(st["data"]["train"]) == 60 and st["data"]["classes"] == [0, 1]
    step(page, 3)
    shot(page, "csv-upload")
    # click to add a point of class 1 at the centre of the heatmap
    n = len(state(page)["data"]["train"])
    page.click("#points", position={"x": 150, "y": 150})
    page.wait_for_function("location.hash.includes('add=')")
    st = state(page)
    assert len(st["data"]["train"]) == n + 1 and st["data"]["train_y"][-1] == 1
    x0, x1, y0, y1 = st["data"]["domain"]
    assert st["data"]["train"][-1] == pytest.approx([(x0 + x1) / 2, (y0 + y1) / 2], abs=0.05 * (x1 - x0))
    # a hostile file: one clear message, the data unchanged
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n4,5,1e999\n")
    page.set_input_files("#csv-file", str(bad))
    page.wait_for_selector("#upload-error:not([hidden])")
    assert "row 3, column 3" in page.text_content("#upload-error")
    assert len(state(page)["data"]["train"]) == n + 1


# -- 10: downloads ---------------------------------------------------------------------------------

def test_downloaded_model_and_script(page, server, tmp_path):
    open_page(page, server, "h=5&act=relu&care=0")
    step(page, 3)
    with page.expect_download() as dl:
        page.click("#dl-model")
    path = tmp_path / "m.safetensors"
    dl.value.save_as(path)
    net = mlp.load(path)
    st = state(page)
    ref, Xf, y = reference({"h": "5", "act": "relu", "care": 0}, 3)
    np.testing.assert_allclose(net(Xf), ref(Xf), rtol=0, atol=1e-9)
    acc = float(page.get_attribute("#metrics", "data-train-acc"))
    assert acc == float(np.mean((net(Xf)[:, 0] > 0.5) == y))
    with page.expect_download() as dl:
        page.click("#dl-script")
    script = tmp_path / "model.py"
    dl.value.save_as(script)
    env = dict(os.environ, PYTHONPATH=str(Path(mlp.__file__).parents[1]))
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    again = mlp.load(tmp_path / "playground.safetensors")
    np.testing.assert_allclose(again.params, st["params"], rtol=0, atol=1e-6)


# -- 11: the lecture -------------------------------------------------------------------------------

def test_lecture_xor_by_hand_hidden_space_and_symbolic_derivative(page, server):
    open_page(page, server)
    page.select_option("#preset", "xor-hand")
    page.wait_for_function("location.hash.includes('preset=xor-hand')")
    settle(page)
    assert float(page.get_attribute("#metrics", "data-train-loss")) == 0
    assert float(page.get_attribute("#metrics", "data-train-acc")) == 1
    st = state(page)
    W = st["frame"]["layers"]
    assert W[0]["W"] == [[1, 1], [2, 2]] and W[0]["b"] == [-1, -1] and W[1]["W"] == [[-3, 1]]
    hs = json.loads(page.get_attribute("#hidden", "data-points"))
    assert hs[1] == hs[2] == [0, 1] and hs[0] == [0, 0] and hs[3] == [1, 3]
    # ∂ŷ/∂w1 by SymPy (MathML) beside backprop, on example (1, 1)
    page.select_option("#sym-example", "3")
    page.wait_for_function("document.getElementById('sym-values').textContent.includes('(1.000, 1.000)')")
    sym = float(page.get_attribute("#sym-values", "data-symbolic"))
    bp = float(page.get_attribute("#sym-values", "data-backprop"))
    from mlp.demo import xor_by_hand
    expr = mlp.symbolic.derivative(xor_by_hand(), "w1")
    assert sym == bp == pytest.approx(float(mlp.symbolic.evaluate(expr, xor_by_hand(), [1.0, 1.0])))
    assert page.get_attribute("#sym-math", "data-text") == str(expr)
    box = page.locator("#sym-math math").bounding_box()
    assert box and box["height"] > 10                              # rendered as MathML
    shot(page, "xor-by-hand")
    shot(page, "hidden-space", "[aria-labelledby=h-lecture]")
    # a dead ReLU: edit b1 to −5 by clicking the bias (keyboard: Enter on the neuron)
    page.focus(".node[data-layer='1'][data-unit='0']")
    page.keyboard.press("Enter")
    page.fill("#edit-value", "-5")
    page.keyboard.press("Enter")
    page.wait_for_selector(".node[data-layer='1'][data-unit='0'][data-dead='1']")
    assert state(page)["params"][6] == -5
    assert "σ′(z) = 0" in page.text_content("#dead")
    # edit a weight by clicking its edge
    page.click("line.edge[data-name='w6']", force=True)
    page.fill("#edit-value", "0.5")
    page.click("#edit-ok")
    page.wait_for_function("document.querySelector(\"line.edge[data-name='w6']\").dataset.value === '0.5'")
    assert state(page)["params"][5] == 0.5


def test_linear_collapse_view(page, server):
    open_page(page, server, "preset=collapse&data=xor4&h=2&act=identity&out=identity&loss=half_sum"
                            "&lr=0.05&batch=4&care=0")
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('epoch').dataset.epoch) > 300", timeout=180000)
    page.click("#play")
    settle(page)
    st = state(page)
    L = st["frame"]["layers"]
    W_eff = np.array(L[1]["W"]) @ np.array(L[0]["W"])
    b_eff = np.array(L[1]["W"]) @ np.array(L[0]["b"]) + np.array(L[1]["b"])
    assert np.allclose(json.loads(page.get_attribute("#collapse", "data-weff")), W_eff, atol=1e-5)
    assert np.allclose(json.loads(page.get_attribute("#collapse", "data-beff")), b_eff, atol=1e-5)
    assert float(page.get_attribute("#collapse", "data-accuracy")) <= 0.75


# -- 12: divergence --------------------------------------------------------------------------------

def test_divergence_pauses_and_says_what_to_change(page, server):
    open_page(page, server, "lr=10&loss=half_sum&out=identity&act=relu&care=0&batch=250")
    page.click("#play")
    page.wait_for_selector("#banner[data-kind='diverged']")
    page.wait_for_function("document.body.dataset.playing === '0'")
    text = page.text_content("#banner")
    assert "diverged" in text and "lower the learning rate" in text and "lr=1" in text


# -- 6: chart hover; 7: test data, discretise, neuron zoom ------------------------------------------

def test_chart_hover_test_points_discretise_and_neuron_zoom(page, server):
    open_page(page, server, "data=spiral&preset=spiral&h=8,8,8&opt=adam&lr=0.01")
    page.click("#play")
    page.wait_for_function("Number(document.getElementById('epoch').dataset.epoch) > 60", timeout=180000)
    page.click("#play")
    settle(page)
    shot(page, "spiral-training")
    settle(page)
    page.hover("#chart", position={"x": 150, "y": 50})
    page.hover("#chart", position={"x": 296, "y": 50})
    page.wait_for_function("document.getElementById('chart-hover').dataset.epoch !== undefined")
    e_hover = int(page.get_attribute("#chart-hover", "data-epoch"))
    # the rightmost point the page has drawn, which the server's chart holds with the same loss (under
    # load the server's chart may already hold one epoch more than the page had drawn)
    drawn = page.evaluate("() => { const p = document.getElementById('chart')._geom.pts; "
                          "return p[p.length - 1]; }")
    assert e_hover == drawn[0]
    assert float(page.get_attribute("#chart-hover", "data-train")) == pytest.approx(drawn[1])
    chart = {row[0]: row[1] for row in state(page)["frame"]["chart"]}
    assert chart[drawn[0]] == pytest.approx(drawn[1])
    n_train = int(page.get_attribute("#points", "data-points"))
    page.check("#test")
    page.wait_for_function(f"Number(document.getElementById('points').dataset.points) > {n_train}")
    page.check("#disc")
    page.wait_for_function("location.hash.includes('disc=1')")
    page.wait_for_timeout(200)
    colours = page.evaluate("""() => { const d = document.getElementById('heatmap').getContext('2d')
        .getImageData(0, 0, 300, 300).data; const s = new Set();
        for (let i = 0; i < d.length; i += 4) s.add(d[i] + ',' + d[i+1] + ',' + d[i+2]); return [...s]; }""")
    assert set(colours) <= {"245,147,34", "8,119,189"}
    page.hover(".node[data-layer='2'][data-unit='3']")
    page.wait_for_selector("#zoom:not([hidden])")
    assert page.get_attribute("#zoom", "data-layer") == "2"


# -- 13: keyboard and a 375-px touch screen --------------------------------------------------------

def test_keyboard_reaches_every_control_with_a_name_and_375px_fits(page, server, browser):
    open_page(page, server, "h=2")
    settle(page)
    controls = page.evaluate("""() => [...document.querySelectorAll(
        'button, input, select, a[href], [tabindex="0"]')].filter(e => e.checkVisibility()).length""")
    seen, names = set(), []
    for _ in range(controls + 5):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => { const e = document.activeElement;
            if (!e || e === document.body) return null;
            const lab = e.labels && e.labels.length ? e.labels[0].textContent : '';
            const name = (e.getAttribute('aria-label') || lab || e.textContent || e.title || '').trim();
            if (!e.dataset.tabSeen) e.dataset.tabSeen = String(Math.random());
            return [e.dataset.tabSeen, e.tagName, e.id, name]; }""")
        if info is None:
            continue
        seen.add(info[0])
        names.append(info)
    assert all(n[3] for n in names), [n for n in names if not n[3]]
    missing = page.evaluate("""() => [...document.querySelectorAll(
        'button, input, select, a[href], [tabindex="0"]')]
        .filter(e => e.checkVisibility() && !e.dataset.tabSeen)
        .map(e => e.tagName + '#' + e.id + '.' + (e.dataset.name || ''))""")
    assert not missing and len(seen) >= controls, missing
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True,
                              bypass_csp=True)
    phone = ctx.new_page()
    try:
        phone.goto(server.url)
        phone.wait_for_selector("body[data-ready='1']")
        width = phone.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth]")
        assert max(width) <= 375, width
        phone.tap("#step")
        phone.wait_for_function("Number(document.getElementById('epoch').dataset.epoch) >= 1")
    finally:
        ctx.close()


def test_regression_metrics_are_the_library_s(page, server):
    config = {"data": "reg-gauss", "out": "identity", "h": "6,4", "opt": "adam", "lr": 0.01}
    open_page(page, server, "&".join(f"{k}={v}" for k, v in config.items()))
    step(page, 3)
    settle(page)
    net, Xf, y = reference(config, 3)
    y_hat = net(Xf)[:, 0]
    rmse = float(np.sqrt(np.mean((y_hat - y) ** 2)))
    r2 = 1 - float(((y_hat - y) ** 2).sum()) / float(((y - y.mean()) ** 2).sum())
    assert float(page.get_attribute("#metrics", "data-train-rmse")) == pytest.approx(rmse, rel=1e-9)
    assert float(page.get_attribute("#metrics", "data-train-r2")) == pytest.approx(r2, rel=1e-9)
    assert "R²" in page.text_content("#metrics") and page.locator("table.confusion").count() == 0
    # the heatmap's colour has the sign of ŷ (blue > 0, orange < 0)
    st = state(page)
    G, (x0, x1, y0, y1) = st["frame"]["G"], st["frame"]["domain"]
    for r, c in ((5, 5), (20, 40), (32, 32), (50, 10), (60, 60)):
        pt = np.array([[x0 + (c + 0.5) * (x1 - x0) / G, y1 - (r + 0.5) * (y1 - y0) / G]])
        out = float(net(problems.features(pt, ["x1", "x2"]))[0, 0])
        px = pixel(page, "#heatmap", int((c + 0.5) * 300 / G), int((r + 0.5) * 300 / G))
        if abs(out) > 0.02:
            assert (px[2] > px[0]) == (out > 0), (r, c, out, px)
