// mlp playground: the page. It computes nothing of the network itself: every number comes
// from the mlp process (/api/...); this file draws them and sends the controls' settings.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const ORANGE = [245, 147, 34], BLUE = [8, 119, 189], WHITE = [255, 255, 255];
const CLASS_COLOURS = [ORANGE, BLUE, [46, 160, 67], [200, 40, 120], [120, 80, 200], [90, 90, 90],
                       [200, 170, 0], [0, 170, 170]];
const $ = (id) => document.getElementById(id);

let META = null, THUMBS = null;
let state = {};            // the settings (URL fragment = the ones that differ from the defaults)
let data = null;           // points from the server
let frame = null;          // last frame: {head, floats}
let playing = false, busy = false, dirty = true;
let chartHover = -1, chartCache = null;
window.pgStats = {frames: 0, epochs: 0, started: 0};

// ---------------------------------------------------------------- server calls
async function api(path, {method = "GET", body = null, type = "application/json"} = {}) {
  const opts = {method, headers: {"X-MLP-Token": TOKEN}};
  if (body !== null) {
    opts.body = typeof body === "string" ? body : JSON.stringify(body);
    opts.headers["Content-Type"] = type;
  }
  const r = await fetch("/api/" + path, opts);
  const isJson = (r.headers.get("Content-Type") || "").startsWith("application/json");
  if (!r.ok) {
    const msg = isJson ? (await r.json()).error : r.statusText;
    throw new Error(msg || ("HTTP " + r.status));
  }
  return isJson ? r.json() : r.arrayBuffer();
}

async function getFrame(play, withHidden = true) {
  const hs = withHidden ? Math.max(1, parseInt($("hs-layer").value || "1", 10)) : 0;
  const have = chartCache ? `&chart=${chartCache.id}:${chartCache.points.length}` : "";
  const buf = await api("frame?play=" + (play ? 1 : 0) + "&hs=" + hs + have);
  const n = new DataView(buf).getUint32(0, true);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
  // the loss chart comes in pieces: the points from chart_start on
  if (chartCache && chartCache.id === head.chart_id) {
    chartCache.points = chartCache.points.slice(0, head.chart_start).concat(head.chart);
  } else {
    chartCache = {id: head.chart_id, points: head.chart};
  }
  head.chart = chartCache.points;
  const floats = new Float32Array(buf, 4 + n);
  return {head, floats};
}

// ---------------------------------------------------------------- the URL state
function readHash() {
  const out = {};
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [k, v] of params) if (k in META.defaults) out[k] = v;
  return out;
}

function writeHash() {
  const params = new URLSearchParams();
  for (const k of Object.keys(META.defaults)) {
    if (state[k] !== undefined && String(state[k]) !== String(META.defaults[k])) params.set(k, state[k]);
  }
  const h = params.toString();
  history.replaceState(null, "", location.pathname + location.search + (h ? "#" + h : ""));
}

function showBanner(b) {
  const el = $("banner");
  if (!b) { el.hidden = true; el.className = ""; el.textContent = ""; return; }
  el.hidden = false;
  el.className = b.kind;
  el.dataset.kind = b.kind;
  el.textContent = b.kind === "diverged" ? "Training diverged, so it was paused. " + b.message : b.message;
}

// Settings go to the server one request at a time, each merged into the state the previous
// one left (two quick changes must not undo each other).
let configChain = Promise.resolve();
function sendConfig(changes, replace = false) {
  configChain = configChain.then(() => applyConfig(changes, replace));
  return configChain;
}

async function applyConfig(changes, replace) {
  const next = replace ? changes : Object.assign({}, state, changes);
  try {
    const out = await api("config", {method: "POST", body: next});
    state = out.config;
    data = out.data;
    writeHash();
    syncControls();
    drawPoints();
    showBanner(null);
  } catch (e) {
    showBanner({kind: "error", message: e.message});
    syncControls();
  }
  dirty = true;
}

// ---------------------------------------------------------------- controls
function option(sel, value, text) {
  const o = document.createElement("option");
  o.value = value; o.textContent = text; sel.appendChild(o);
}

function buildControls() {
  for (const [id, list] of [["out", META.activations], ["opt", META.optimizers], ["init", META.inits]]) {
    for (const v of list) option($(id), v, v);
  }
  for (const [k, v] of Object.entries(META.losses)) option($("loss"), k, v);
  // data set buttons with thumbnails
  const box = $("problems");
  for (const [name, [label]] of Object.entries(META.problems)) {
    const b = document.createElement("button");
    b.type = "button"; b.setAttribute("role", "radio"); b.dataset.problem = name;
    b.setAttribute("aria-label", label);
    const c = document.createElement("canvas"); c.width = 48; c.height = 48;
    b.appendChild(c);
    const s = document.createElement("span"); s.textContent = label.split(" (")[0]; b.appendChild(s);
    b.addEventListener("click", () => sendConfig({data: name, preset: ""}));
    box.appendChild(b);
    drawThumb(c, THUMBS[name]);
  }
  // features
  const fbox = $("features");
  for (const [k, label] of Object.entries(META.features)) {
    const id = "feat-" + k;
    const cb = document.createElement("input"); cb.type = "checkbox"; cb.id = id; cb.dataset.feature = k;
    const lab = document.createElement("label"); lab.htmlFor = id; lab.textContent = label;
    cb.addEventListener("change", () => {
      const on = Object.keys(META.features).filter((f) => $("feat-" + f).checked);
      if (!on.length) { cb.checked = true; return; }
      sendConfig({f: on.join(","), preset: ""});
    });
    const span = document.createElement("span"); span.append(cb, lab); fbox.appendChild(span);
  }
  // plain inputs and selects bound to a key
  for (const el of document.querySelectorAll("[data-key]")) {
    const key = el.dataset.key;
    el.addEventListener("change", () => {
      let v = el.type === "checkbox" ? (el.checked ? 1 : 0) : el.value;
      const ch = {[key]: v};
      if (key === "preset") { sendConfig(v ? {preset: v, hide: state.hide || ""} : {preset: ""}, !!v); return; }
      if (META.data_keys.includes(key) || META.net_keys.includes(key)) ch.preset = "";
      sendConfig(ch);
    });
    if (el.type === "range") el.addEventListener("input", () => { $(el.id + "-out").textContent = el.value; });
  }
  $("add-layer").addEventListener("click", () => {
    const h = hidden();
    if (h.length >= META.max_layers) return;
    h.push(h.length ? h[h.length - 1] : 2);
    sendConfig({h: h.join(","), act: acts(h.length).join(","), preset: ""});
  });
  $("remove-layer").addEventListener("click", () => {
    const h = hidden(); h.pop();
    sendConfig({h: h.join(","), act: acts(h.length).join(",") || "tanh", preset: ""});
  });
  $("regenerate").addEventListener("click", () => sendConfig({dseed: Number(state.dseed) + 1, preset: ""}));
  $("clear-added").addEventListener("click", () => sendConfig({add: ""}));
  // classroom mode: which control groups to hide
  const groups = ["data", "upload", "features", "network", "optimizer", "regularization", "stop", "lecture", "download"];
  for (const gname of groups) {
    const id = "hide-" + gname;
    const cb = document.createElement("input"); cb.type = "checkbox"; cb.id = id; cb.dataset.group = gname;
    const lab = document.createElement("label"); lab.htmlFor = id; lab.textContent = "hide " + gname;
    cb.addEventListener("change", () => {
      const hide = groups.filter((x) => $("hide-" + x).checked);
      sendConfig({hide: hide.join(",")});
    });
    const span = document.createElement("span"); span.append(cb, lab, document.createTextNode(" "));
    $("hide-list").appendChild(span);
  }
}

function hidden() { return String(state.h || "").split(",").filter((x) => x !== "").map(Number); }
function acts(n) {
  const a = String(state.act || "tanh").split(",");
  return Array.from({length: n}, (_, i) => a[Math.min(i, a.length - 1)]);
}

function syncControls() {
  for (const el of document.querySelectorAll("[data-key]")) {
    const v = state[el.dataset.key];
    if (v === undefined) continue;
    if (el.type === "checkbox") el.checked = Number(v) === 1;
    else if (document.activeElement !== el || el.tagName === "SELECT") el.value = v;
    if (el.type === "range") $(el.id + "-out").textContent = v;
  }
  for (const b of document.querySelectorAll("[data-problem]")) {
    b.setAttribute("aria-checked", b.dataset.problem === state.data ? "true" : "false");
  }
  const feats = String(state.f).split(",");
  for (const k of Object.keys(META.features)) $("feat-" + k).checked = feats.includes(k);
  // one row per hidden layer: neurons (typed, not capped at 8) and activation
  const box = $("layers");
  box.textContent = "";
  const h = hidden(), a = acts(h.length);
  h.forEach((units, i) => {
    const row = document.createElement("div"); row.className = "layer-row";
    const nid = "units-" + (i + 1), aid = "act-" + (i + 1);
    const nl = document.createElement("label"); nl.htmlFor = nid; nl.textContent = `Layer ${i + 1}: neurons`;
    const ni = document.createElement("input"); ni.type = "number"; ni.id = nid; ni.min = 1; ni.max = META.max_units;
    ni.value = units;
    ni.addEventListener("change", () => {
      const hh = hidden(); hh[i] = Math.max(1, Math.round(Number(ni.value) || 1));
      sendConfig({h: hh.join(","), act: acts(hh.length).join(","), preset: ""});
    });
    const al = document.createElement("label"); al.htmlFor = aid; al.textContent = "activation";
    const as = document.createElement("select"); as.id = aid;
    for (const v of META.activations) option(as, v, v);
    as.value = a[i];
    as.addEventListener("change", () => {
      const aa = acts(hidden().length); aa[i] = as.value;
      sendConfig({act: aa.join(","), preset: ""});
    });
    row.append(nl, ni, al, as);
    box.appendChild(row);
  });
  const hide = String(state.hide || "").split(",").filter(Boolean);
  for (const el of document.querySelectorAll("[data-group]")) {
    if (el.closest("#hide-list")) continue;
    el.hidden = hide.includes(el.dataset.group);
  }
  for (const cb of document.querySelectorAll("#hide-list input")) cb.checked = hide.includes(cb.dataset.group);
  $("dl-model").href = "/api/model.safetensors?token=" + encodeURIComponent(TOKEN);
  $("dl-script").href = "/api/model.py?token=" + encodeURIComponent(TOKEN);
  if (data) {
    const ex = $("sym-example"); const keep = ex.value; ex.textContent = "";
    data.train.slice(0, 50).forEach((x, i) => option(ex, i, `#${i}: (${x[0].toFixed(2)}, ${x[1].toFixed(2)})`));
    if (keep && Number(keep) < Math.min(50, data.train.length)) ex.value = keep;
  }
}

// ---------------------------------------------------------------- colours
function mix(a, b, t) { return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]; }
function diverging(t) {      // t in [-1, 1]: orange .. white .. blue
  t = Math.max(-1, Math.min(1, t));
  return t < 0 ? mix(WHITE, ORANGE, -t) : mix(WHITE, BLUE, t);
}

// colour of output cell i (from the main heatmap, channel-major: [out][G*G])
function outputColour(floats, i, GG, head) {
  const disc = Number(state.disc) === 1;
  if (head.task === "regression") {
    let t = floats[i] / (head.yscale || 1);
    if (disc) t = Math.sign(t);
    return diverging(t);
  }
  if (head.n_out === 1) {
    let t = 2 * (floats[i] - 0.5);
    if (disc) t = t > 0 ? 1 : -1;
    return diverging(t);
  }
  let best = 0, bv = -Infinity, sum = 0;
  for (let k = 0; k < head.n_out; k++) {
    const v = floats[k * GG + i]; sum += Math.max(v, 0);
    if (v > bv) { bv = v; best = k; }
  }
  const kk = head.n_out;
  let conf = Math.max(0, Math.min(1, (bv / (sum || 1) - 1 / kk) / (1 - 1 / kk)));
  if (disc) conf = 1;
  return mix(WHITE, CLASS_COLOURS[best % CLASS_COLOURS.length], 0.25 + 0.75 * conf);
}

function pointColour(label, task) {
  if (task === "regression") return diverging(label / (yScale() || 1));
  return CLASS_COLOURS[label % CLASS_COLOURS.length];
}

function yScale() {
  if (!data || data.task !== "regression") return 1;
  let m = 0;
  for (const v of data.train_y) m = Math.max(m, Math.abs(v));
  return m || 1;
}

// ---------------------------------------------------------------- drawing
function drawThumb(c, t) {
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, c.width, c.height);
  const [x0, x1, y0, y1] = t.domain;
  const s = t.X.length < 20 ? 7 : 2.5;
  t.X.forEach((p, i) => {
    const col = t.task === "regression" ? diverging(t.y[i]) : CLASS_COLOURS[t.y[i] % 8];
    ctx.fillStyle = `rgb(${col.map(Math.round).join(",")})`;
    ctx.fillRect((p[0] - x0) / (x1 - x0) * c.width - s / 2, (y1 - p[1]) / (y1 - y0) * c.height - s / 2, s, s);
  });
}

const offscreen = {};
function paint(canvas, w, h, colourAt) {
  // an opaque w x h image, scaled onto the canvas without smoothing
  let off = offscreen[w + "x" + h];
  if (!off) {
    off = document.createElement("canvas"); off.width = w; off.height = h;
    off._img = off.getContext("2d").createImageData(w, h);
    offscreen[w + "x" + h] = off;
  }
  const octx = off.getContext("2d");
  const img = off._img;
  for (let i = 0; i < w * h; i++) {
    const c = colourAt(i);
    img.data[4 * i] = c[0]; img.data[4 * i + 1] = c[1]; img.data[4 * i + 2] = c[2]; img.data[4 * i + 3] = 255;
  }
  octx.putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
}

function drawHeatmap() {
  if (!frame) return;
  const {head, floats} = frame;
  head.yscale = yScale();
  const G = head.G, GG = G * G;
  const canvas = $("heatmap");
  paint(canvas, G, G, (i) => outputColour(floats, i, GG, head));
  const [x0, x1, y0, y1] = head.domain;
  Object.assign(canvas.dataset, {x0, x1, y0, y1, grid: G, task: head.task, nOut: head.n_out});
  drawAxes(head.domain);
  const lg = $("legend"); lg.textContent = "";
  const items = head.task === "regression" ? [["negative", ORANGE], ["0", WHITE], ["positive", BLUE]]
    : head.n_out === 1 ? [["class 0 (ŷ < 0.5)", ORANGE], ["class 1 (ŷ > 0.5)", BLUE]]
    : Array.from({length: head.n_out}, (_, k) => ["class " + k, CLASS_COLOURS[k % 8]]);
  for (const [t, c] of items) {
    const s = document.createElement("span"); s.textContent = t;
    s.style.setProperty("--c", `rgb(${c.join(",")})`); lg.appendChild(s);
  }
}

function drawAxes(domain) {
  const c = $("axes"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.fillStyle = "#444"; ctx.font = "11px sans-serif"; ctx.textAlign = "center";
  const [x0, x1, y0, y1] = domain;
  for (let i = 0; i <= 4; i++) {
    const px = i / 4 * 300;
    ctx.fillRect(px, 0, 1, 5);
    ctx.fillText((x0 + i / 4 * (x1 - x0)).toFixed(1), Math.min(Math.max(px, 12), 300), 16);
  }
  ctx.textAlign = "left";
  ctx.fillText(`x₁ →   (x₂ from ${y0.toFixed(1)} at the bottom to ${y1.toFixed(1)} at the top)`, 0, 32);
}

function toPx(p, domain, size) {
  const [x0, x1, y0, y1] = domain;
  return [(p[0] - x0) / (x1 - x0) * size, (y1 - p[1]) / (y1 - y0) * size];
}

function drawPoints() {
  const c = $("points"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  if (!data) return;
  const sets = [[data.train, data.train_y, false]];
  if (Number(state.test) === 1) sets.push([data.test, data.test_y, true]);
  for (const [X, Y, isTest] of sets) {
    X.forEach((p, i) => {
      const [px, py] = toPx(p, data.domain, c.width);
      const col = pointColour(Y[i], data.task);
      ctx.beginPath(); ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = `rgb(${col.map(Math.round).join(",")})`; ctx.fill();
      ctx.lineWidth = 1; ctx.strokeStyle = isTest ? "#000" : "#fff"; ctx.stroke();
    });
  }
  c.dataset.points = sets.reduce((n, s) => n + s[0].length, 0);
}

// the network: nodes with thumbnails, edges whose width and colour show the weight
function drawNetwork() {
  if (!frame) return;
  const {head, floats} = frame;
  const box = $("network");
  const G = head.G, g = head.g, gg = g * g;
  const sizes = head.units.concat([head.n_out]);
  const colW = 110, nodeH = 48, top = 10;
  const height = top + Math.max(...sizes) * nodeH + 10;
  const width = 70 + (sizes.length - 1) * colW + 60;
  box.style.height = height + "px";
  const key = sizes.join("-");
  if (box.dataset.key !== key) {
    box.textContent = ""; box.dataset.key = key;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("width", width); svg.setAttribute("height", height);
    box.appendChild(svg);
    box._nodes = [];
    sizes.forEach((n, L) => {
      box._nodes.push([]);
      for (let j = 0; j < n; j++) {
        const el = document.createElement(L === 0 ? "div" : "button");
        el.className = "node";
        el.style.left = (60 + L * colW) + "px"; el.style.top = (top + j * nodeH) + "px";
        const c = document.createElement("canvas"); c.width = g; c.height = g; el.appendChild(c);
        el.dataset.layer = L; el.dataset.unit = j;
        if (L > 0) {
          el.type = "button";
          el.addEventListener("click", () => openEditor(biasName(head, L - 1, j)));
        } else {
          el.setAttribute("role", "img");
          const lab = document.createElement("span"); lab.className = "node-label";
          lab.style.left = "-64px"; lab.style.top = "10px";
          lab.textContent = META.features[data.features[j]] || data.features[j];
          el.appendChild(lab);
        }
        el.addEventListener("mouseenter", () => zoomNode(el));
        el.addEventListener("mouseleave", () => { $("zoom").hidden = true; });
        el.addEventListener("focus", () => zoomNode(el));
        el.addEventListener("blur", () => { $("zoom").hidden = true; });
        box.appendChild(el);
        box._nodes[L].push(el);
      }
    });
    // edges
    for (let L = 1; L < sizes.length; L++) {
      for (let j = 0; j < sizes[L]; j++) {
        for (let i = 0; i < sizes[L - 1]; i++) {
          const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
          line.setAttribute("x1", 60 + (L - 1) * colW + 36); line.setAttribute("y1", top + i * nodeH + 18);
          line.setAttribute("x2", 60 + L * colW); line.setAttribute("y2", top + j * nodeH + 18);
          line.setAttribute("class", "edge"); line.setAttribute("tabindex", "0"); line.setAttribute("role", "button");
          line.dataset.layer = L - 1; line.dataset.row = j; line.dataset.col = i;
          const name = weightName(head, L - 1, j, i);
          line.dataset.name = name;
          line.addEventListener("click", () => openEditor(name));
          line.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openEditor(name); } });
          svg.appendChild(line);
        }
      }
    }
  }
  // values: edges and node thumbnails
  for (const line of box.querySelectorAll("line.edge")) {
    const w = head.layers[line.dataset.layer].W[line.dataset.row][line.dataset.col];
    line.setAttribute("stroke", w >= 0 ? "rgb(8,119,189)" : "rgb(245,147,34)");
    line.setAttribute("stroke-width", Math.max(0.5, Math.min(8, Math.abs(w) * 2)).toFixed(2));
    line.setAttribute("stroke-opacity", "0.8");
    line.dataset.value = w;
    line.setAttribute("aria-label", `weight ${line.dataset.name} = ${w.toFixed(4)}, press Enter to edit`);
    const t = line.querySelector("title") || line.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "title"));
    t.textContent = `${line.dataset.name} = ${w.toFixed(4)}`;
  }
  let off = head.n_out * G * G;
  const dead = new Set(head.dead.map(([i, j]) => `${i + 1}:${j}`));
  head.units.forEach((n, L) => {
    for (let j = 0; j < n; j++) {
      const el = box._nodes[L][j];
      const start = off + j * gg;
      paint(el.querySelector("canvas"), g, g, (i) => diverging(floats[start + i]));
      el._img = {floats, start, w: g};
      if (L > 0) {
        const b = head.layers[L - 1].b[j];
        const nm = biasName(head, L - 1, j);
        el.setAttribute("aria-label", `layer ${L} neuron ${j + 1} (${head.layers[L - 1].act}), bias ${nm} = ${b.toFixed(4)}, press Enter to edit`);
        el.dataset.bias = b;
        let badge = el.querySelector(".badge");
        if (dead.has(`${L}:${j}`)) {
          if (!badge) { badge = document.createElement("span"); badge.className = "badge"; badge.textContent = "dead"; el.appendChild(badge); }
          badge.title = "z ≤ 0 on every training point: σ′(z) = 0, so δ = 0 and ∂loss/∂w = δ·h = 0 — gradient descent cannot revive it";
          el.dataset.dead = "1";
        } else if (badge) { badge.remove(); delete el.dataset.dead; }
      } else {
        el.setAttribute("aria-label", `input ${data.features[j]}`);
      }
    }
    off += n * gg;
  });
  // the output node: the main heatmap, small
  const outs = box._nodes[sizes.length - 1];
  outs.forEach((el, j) => {
    const cv = el.querySelector("canvas");
    const GG = G * G;
    paint(cv, G, G, (i) => head.n_out === 1 ? outputColour(floats, i, GG, head)
      : mix(WHITE, CLASS_COLOURS[j % 8], Math.max(0, Math.min(1, floats[j * GG + i]))));
    el._img = {floats, start: j * GG, w: G, output: true};
    const b = head.layers[head.layers.length - 1].b[j];
    el.setAttribute("aria-label", `output ${j + 1} (${head.layers[head.layers.length - 1].act}), bias ${biasName(head, head.layers.length - 1, j)} = ${b.toFixed(4)}, press Enter to edit`);
    el.dataset.bias = b;
  });
}

function weightName(head, l, j, i) {
  let at = 0;
  for (let k = 0; k < l; k++) at += head.layers[k].W.length * head.layers[k].W[0].length;
  return head.names[at + j * head.layers[l].W[0].length + i];
}
function biasName(head, l, j) {
  let nw = 0;
  for (const L of head.layers) nw += L.W.length * L.W[0].length;
  let at = nw;
  for (let k = 0; k < l; k++) at += head.layers[k].b.length;
  return head.names[at + j];
}

function zoomNode(el) {
  const z = $("zoom"), c = $("zoom-canvas");
  const im = el._img; if (!im) return;
  const {head} = frame;
  if (im.output) paint(c, im.w, im.w, (i) => outputColour(im.floats, i, im.w * im.w, head));
  else paint(c, im.w, im.w, (i) => diverging(im.floats[im.start + i]));
  const r = el.getBoundingClientRect();
  z.style.left = Math.min(r.right + 8, window.innerWidth - 170) + "px";
  z.style.top = Math.max(0, r.top - 40) + "px";
  z.hidden = false;
  z.dataset.layer = el.dataset.layer; z.dataset.unit = el.dataset.unit;
}

let editing = null, editReturn = null;
function openEditor(name) {
  if (!frame) return;
  const idx = frame.head.names.indexOf(name);
  editing = name; editReturn = document.activeElement;
  $("edit-label").textContent = `value of ${name}`;
  $("edit-value").value = flatParams()[idx];
  $("editor").hidden = false;
  $("editor").dataset.name = name;
  $("edit-value").focus(); $("edit-value").select();
}
function flatParams() {
  const ws = [], bs = [];
  for (const L of frame.head.layers) { for (const row of L.W) ws.push(...row); bs.push(...L.b); }
  return ws.concat(bs);
}
async function commitEdit() {
  const v = Number($("edit-value").value);
  if (!Number.isFinite(v)) return;
  try { await api("param", {method: "POST", body: {name: editing, value: v}}); } catch (e) { showBanner({kind: "error", message: e.message}); }
  closeEditor(); dirty = true;
}
function closeEditor() {
  $("editor").hidden = true; editing = null;
  if (editReturn && editReturn.isConnected) editReturn.focus();
}

function drawMetrics() {
  const {head} = frame;
  const m = head.metrics;
  const el = $("metrics");
  const fmt = (v) => (v === null || v === undefined) ? "–" : Number(v).toPrecision(4);
  el.dataset.epoch = head.epoch;
  el.dataset.trainLoss = m.train_loss; el.dataset.testLoss = m.test_loss;
  let rows = [["", "train", "test"], ["loss", fmt(m.train_loss), fmt(m.test_loss)]];
  if (head.task === "classification") {
    el.dataset.trainAcc = m.train_acc; el.dataset.testAcc = m.test_acc;
    rows.push(["accuracy", fmt(m.train_acc), fmt(m.test_acc)]);
  } else {
    el.dataset.trainR2 = m.train_r2; el.dataset.testR2 = m.test_r2;
    el.dataset.trainRmse = m.train_rmse; el.dataset.testRmse = m.test_rmse;
    rows.push(["R²", fmt(m.train_r2), fmt(m.test_r2)], ["RMSE", fmt(m.train_rmse), fmt(m.test_rmse)]);
  }
  const dl = document.createElement("dl");
  for (const r of rows) for (const cell of r) { const d = document.createElement("span"); d.textContent = cell; dl.appendChild(d); }
  el.textContent = ""; el.appendChild(dl);
  const cbox = $("confusion"); cbox.textContent = "";
  if (m.test_confusion) {
    const t = document.createElement("table"); t.className = "confusion";
    const cap = document.createElement("caption"); cap.textContent = "Confusion matrix (test): rows true, columns predicted"; t.appendChild(cap);
    const hr = t.insertRow(); hr.appendChild(document.createElement("th"));
    m.test_confusion.forEach((_, k) => { const th = document.createElement("th"); th.textContent = k; hr.appendChild(th); });
    m.test_confusion.forEach((row, k) => {
      const tr = t.insertRow(); const th = document.createElement("th"); th.textContent = k; tr.appendChild(th);
      row.forEach((v) => { tr.insertCell().textContent = v; });
    });
    t.dataset.matrix = JSON.stringify(m.test_confusion);
    cbox.appendChild(t);
  }
  $("epoch").textContent = head.epoch; $("epoch").dataset.epoch = head.epoch;
}

function drawChart() {
  const {head} = frame;
  const c = $("chart"), ctx = c.getContext("2d");
  const pts = head.chart;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, c.width, c.height);
  if (!pts.length) return;
  let maxL = 0;
  for (const p of pts) for (const v of [p[1], p[2]]) if (v !== null && Number.isFinite(v)) maxL = Math.max(maxL, v);
  maxL = maxL || 1;
  const e0 = pts[0][0], e1 = Math.max(pts[pts.length - 1][0], e0 + 1);
  const X = (e) => 4 + (e - e0) / (e1 - e0) * (c.width - 8), Y = (v) => c.height - 4 - v / maxL * (c.height - 16);
  for (const [k, col] of [[2, "rgb(8,119,189)"], [1, "#222"]]) {
    ctx.beginPath(); ctx.strokeStyle = col; ctx.lineWidth = 1.5;
    pts.forEach((p, i) => { if (p[k] === null) return; i ? ctx.lineTo(X(p[0]), Y(p[k])) : ctx.moveTo(X(p[0]), Y(p[k])); });
    ctx.stroke();
  }
  ctx.fillStyle = "#444"; ctx.font = "10px sans-serif";
  ctx.fillText("max " + maxL.toPrecision(3), 4, 10);
  c.dataset.points = pts.length;
  c._geom = {X, Y, pts};
  if (chartHover >= 0 && chartHover < pts.length) showChartHover(chartHover);
}

function showChartHover(i) {
  const c = $("chart"), g = c._geom; if (!g) return;
  const p = g.pts[Math.max(0, Math.min(i, g.pts.length - 1))];
  const ctx = c.getContext("2d");
  ctx.strokeStyle = "#aaa"; ctx.beginPath(); ctx.moveTo(g.X(p[0]), 0); ctx.lineTo(g.X(p[0]), c.height); ctx.stroke();
  const fmt = (v) => v === null ? "–" : v.toPrecision(4);
  const h = $("chart-hover");
  h.textContent = `epoch ${p[0]}: train loss ${fmt(p[1])}, test loss ${fmt(p[2])}`;
  h.dataset.epoch = p[0]; h.dataset.train = p[1]; h.dataset.test = p[2];
}

function drawLecture() {
  const {head} = frame;
  // hidden space
  const hs = head.hidden_space, c = $("hidden"), ctx = c.getContext("2d");
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, c.width, c.height);
  if (hs) {
    let lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
    const all = hs.lines.flat().concat(hs.train);
    for (const p of all) for (let k = 0; k < 2; k++) { if (Number.isFinite(p[k])) { lo[k] = Math.min(lo[k], p[k]); hi[k] = Math.max(hi[k], p[k]); } }
    const span = Math.max(hi[0] - lo[0], hi[1] - lo[1], 1e-6) * 1.1;
    const cx = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2;
    const P = (p) => [(p[0] - cx) / span * 280 + 150, 150 - (p[1] - cy) / span * 280];
    ctx.strokeStyle = "rgba(0,0,0,0.25)"; ctx.lineWidth = 1;
    for (const L of hs.lines) { ctx.beginPath(); L.forEach((p, i) => { const [x, y] = P(p); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); }); ctx.stroke(); }
    hs.train.forEach((p, i) => {
      const [x, y] = P(p); const col = pointColour(hs.train_y[i], head.task);
      ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI); ctx.fillStyle = `rgb(${col.map(Math.round).join(",")})`; ctx.fill();
      ctx.strokeStyle = "#000"; ctx.stroke();
    });
    if (data && data.train.length <= 8) {       // the lecture's truth table: name the inputs
      const at = {};
      ctx.fillStyle = "#000"; ctx.font = "12px sans-serif";
      hs.train.forEach((p, i) => {
        const [x, y] = P(p), key = Math.round(x) + "," + Math.round(y);
        const n = at[key] = (at[key] || 0) + 1;
        ctx.fillText(`x = (${data.train[i].map((v) => +v.toFixed(2)).join(", ")})`, x + 8, y + 4 + 14 * (n - 1));
      });
    }
    c.dataset.points = JSON.stringify(hs.train);
    c.dataset.layer = hs.layer;
    $("hidden-note").textContent = `Layer ${hs.layer} has ${hs.units} unit(s); shown: (h1, h2)` +
      (hs.units > 2 ? " (its first two units)" : "") + ". The grid is the input plane, bent by the layer.";
  } else {
    $("hidden-note").textContent = "No hidden layer: nothing to show.";
  }
  // dead units
  const dead = $("dead");
  dead.dataset.count = head.dead.length;
  dead.textContent = head.dead.length
    ? `Dead units: ${head.dead.map(([i, j]) => `layer ${i + 1} neuron ${j + 1}`).join(", ")}. Each has z ≤ 0 on every training point, so σ′(z) = 0: its δ is 0 and every weight into it gets ∂loss/∂w = δ·x = 0. Gradient descent cannot bring it back` + (Number(state.care) ? " (mlp's ReLU care re-draws it after the epoch)." : "; turn on mlp's ReLU care, lower the learning rate or use leaky ReLU.")
    : "No dead units.";
  const col = $("collapse");
  if (head.collapse) {
    const cv = head.collapse;
    col.dataset.accuracy = cv.accuracy;
    col.dataset.weff = JSON.stringify(cv.W); col.dataset.beff = JSON.stringify(cv.b);
    col.textContent = `All hidden activations are identity, so the network is one affine map (mlp.collapse): ` +
      `W_eff = W2·W1 = ${JSON.stringify(cv.W)}, b_eff = W2·b1 + b2 = ${JSON.stringify(cv.b)} ` +
      `(largest difference from the network: ${cv.max_diff.toExponential(1)}).` +
      (cv.accuracy !== undefined ? ` Training accuracy: ${(100 * cv.accuracy).toFixed(1)}%; the best least-squares line: ${(100 * cv.best_line_accuracy).toFixed(1)}%.` : "");
  } else {
    col.textContent = "Set every hidden activation to identity to see the network collapse to one layer.";
    delete col.dataset.accuracy;
  }
}

async function refreshSymbolic() {
  const name = $("sym-param").value || "w1", ex = $("sym-example").value || 0;
  try {
    const out = await api(`lecture?param=${encodeURIComponent(name)}&example=${ex}`);
    const box = $("sym-math");
    $("sym-name").textContent = name;
    if (out.error) { box.textContent = out.error; $("sym-values").textContent = ""; return; }
    box.innerHTML = out.mathml;      // MathML generated by SymPy on the server
    box.dataset.text = out.text;
    const v = $("sym-values");
    v.dataset.symbolic = out.symbolic; v.dataset.backprop = out.backprop;
    v.textContent = `At x = (${out.x.map((t) => t.toFixed(3)).join(", ")}): SymPy ${out.symbolic.toPrecision(8)}, ` +
      `backprop ${out.backprop.toPrecision(8)}.`;
  } catch (e) { $("sym-math").textContent = e.message; }
}

function syncParamList() {
  const sel = $("sym-param"), names = frame.head.names;
  if (sel.dataset.names === names.join(",")) return;
  const keep = sel.value; sel.textContent = "";
  for (const n of names) option(sel, n, n);
  sel.value = names.includes(keep) ? keep : names[0];
  sel.dataset.names = names.join(",");
}

function render() {
  drawHeatmap(); drawNetwork(); drawMetrics(); drawChart(); drawLecture(); syncParamList();
  showBanner(frame.head.banner);
  document.body.dataset.epoch = frame.head.epoch;
}

// ---------------------------------------------------------------- the loop
function setPlaying(on) {
  playing = on;
  $("play").textContent = on ? "Pause" : "Play";
  $("play").setAttribute("aria-pressed", on ? "true" : "false");
  document.body.dataset.playing = on ? "1" : "0";
  if (on) { pgStats.frames = 0; pgStats.epochs = 0; pgStats.started = performance.now(); }
  else refreshSymbolic();
}

// One frame request in flight at a time (back-pressure). While playing, the next request
// leaves as soon as a frame arrives, and drawing happens on the next animation frame, so the
// server trains while the page draws. The hidden space rides along on every 6th frame.
let pending = null, nFetched = 0;
async function pump() {
  if (busy || !(playing || dirty)) return;
  busy = true;
  document.body.dataset.busy = "1";
  const wasDirty = dirty, play = playing;
  dirty = false;
  try {
    const f = await getFrame(play, !play || nFetched++ % 6 === 0);
    if (!f.head.hidden_space && frame && frame.head.hidden_space) f.head.hidden_space = frame.head.hidden_space;
    pending = f;
    if (play) {
      pgStats.epochs += f.head.ran;
      if (f.head.at_stop) setPlaying(false);
    } else if (wasDirty) {
      pending.ready = true;
    }
  } catch (e) {
    showBanner({kind: "error", message: e.message});
    setPlaying(false);
  }
  busy = false;
  if (playing) pump();
  else if (!pending) document.body.dataset.busy = "0";
}

function tick() {
  if (pending) {
    frame = pending; pending = null;
    const t0 = performance.now();
    render();
    pgStats.renderMs = (pgStats.renderMs || 0) + performance.now() - t0;
    if (playing) pgStats.frames++;
    if (frame.ready) document.body.dataset.ready = "1";
    if (!busy) document.body.dataset.busy = "0";
  }
  pump();
  requestAnimationFrame(tick);
}

async function whenIdle() {
  while (busy) await new Promise((r) => setTimeout(r, 5));
  pending = null;             // a frame from before this action must not be drawn after it
}

function wire() {
  $("play").addEventListener("click", () => setPlaying(!playing));
  $("step").addEventListener("click", async () => {
    setPlaying(false); await whenIdle();
    busy = true;
    try {
      const out = await api("step", {method: "POST", body: {epochs: 1}});
      frame = await getFrame(false); render();
      if (out.banner) showBanner(out.banner);
    } catch (e) { showBanner({kind: "error", message: e.message}); }
    busy = false;
    refreshSymbolic();
  });
  $("reset").addEventListener("click", async () => {
    setPlaying(false); await whenIdle();
    await api("reset", {method: "POST", body: {}}); dirty = true;
  });
  $("new-weights").addEventListener("click", async () => {
    setPlaying(false); await whenIdle();
    const out = await api("new-weights", {method: "POST", body: {}});
    state.wseed = out.wseed; state.preset = ""; writeHash(); syncControls(); dirty = true;
  });
  $("edit-ok").addEventListener("click", commitEdit);
  $("edit-cancel").addEventListener("click", closeEditor);
  $("edit-value").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); commitEdit(); }
    if (e.key === "Escape") closeEditor();
  });
  $("sym-refresh").addEventListener("click", refreshSymbolic);
  $("sym-param").addEventListener("change", refreshSymbolic);
  $("sym-example").addEventListener("change", refreshSymbolic);
  $("hs-layer").addEventListener("change", () => { dirty = true; });
  // loss chart hover (mouse and arrow keys)
  const chart = $("chart");
  chart.addEventListener("mousemove", (e) => {
    const g = chart._geom; if (!g) return;
    const r = chart.getBoundingClientRect();
    const x = (e.clientX - r.left) * chart.width / r.width;
    let best = 0, bd = Infinity;
    g.pts.forEach((p, i) => { const d = Math.abs(g.X(p[0]) - x); if (d < bd) { bd = d; best = i; } });
    chartHover = best; drawChart();
  });
  chart.addEventListener("mouseleave", () => { chartHover = -1; drawChart(); });
  chart.addEventListener("keydown", (e) => {
    const g = chart._geom; if (!g) return;
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      e.preventDefault();
      chartHover = Math.max(0, Math.min(g.pts.length - 1, (chartHover < 0 ? g.pts.length - 1 : chartHover) + (e.key === "ArrowLeft" ? -1 : 1)));
      drawChart();
    }
  });
  // click to add a point
  $("points").addEventListener("click", (e) => {
    if (!data) return;
    const c = $("points"), r = c.getBoundingClientRect();
    const [x0, x1, y0, y1] = data.domain;
    const x = x0 + (e.clientX - r.left) / r.width * (x1 - x0), y = y1 - (e.clientY - r.top) / r.height * (y1 - y0);
    const label = Number($("add-class").value) || 0;
    const add = (state.add ? state.add + ";" : "") + `${x.toFixed(3)}:${y.toFixed(3)}:${label}`;
    sendConfig({add});
  });
  // CSV upload: a raw text/csv body
  $("csv-file").addEventListener("change", async () => {
    const f = $("csv-file").files[0]; if (!f) return;
    const err = $("upload-error"); err.hidden = true; err.textContent = "";
    try {
      if (f.size > META.max_csv_bytes) throw new Error(`the file is ${f.size} bytes; at most ${META.max_csv_bytes}`);
      const text = await f.text();
      const out = await api("upload", {method: "POST", body: text, type: "text/csv"});
      for (const id of ["cx1", "cx2", "ct"]) {
        const sel = $(id); sel.textContent = "";
        out.columns.forEach((c, j) => option(sel, j, c));
      }
      $("csv-columns").hidden = false;
      $("upload-info").textContent = `${out.rows} rows, columns: ${out.columns.join(", ")}`;
      const last = out.columns.length - 1;
      await sendConfig({data: "csv", cx1: 0, cx2: 1, ct: last, preset: "", add: ""});
    } catch (e) {
      err.textContent = "Upload refused: " + e.message; err.hidden = false;
    }
  });
  // keyboard: Escape hides the zoom
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") $("zoom").hidden = true; });
}

async function main() {
  try {
    META = await api("meta");
    THUMBS = await api("thumbs");
  } catch (e) {
    showBanner({kind: "error", message: "Cannot reach the mlp playground server: " + e.message +
      " (open the URL that 'mlp playground' printed)"});
    return;
  }
  buildControls();
  wire();
  state = Object.assign({}, META.defaults, readHash());
  await sendConfig({});
  if (state.data === "csv" && !data) await sendConfig({data: "circle"});
  refreshSymbolic();
  requestAnimationFrame(tick);
}

main();
