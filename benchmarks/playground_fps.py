"""Frame rate of `mlp playground` while playing: frames/s and training steps/s in headless Chromium.

The server runs in its own process (`python -m mlp.playground --port 0 --no-open`), the page in
Debian's Chromium driven by Playwright. It plays the default network (2-4-2-1 tanh, SGD, batch 10)
on TF Playground's spiral (250 training points) for --seconds and reads the page's own counters
(frames drawn, epochs trained). Steps = epochs × ⌈250 / 10⌉ optimiser steps.

    flock -w 900 /tmp/mlp-bench.lock python benchmarks/playground_fps.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fragment", default="data=spiral")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    proc = subprocess.Popen([sys.executable, "-m", "mlp.playground", "--port", "0", "--no-open"],
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        url = proc.stdout.readline().split(": ", 1)[1].strip()
        runs = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for _ in range(args.repeats):
                page.goto(url + "#" + args.fragment)
                page.wait_for_selector("body[data-ready='1']")
                page.click("#reset")
                page.wait_for_timeout(300)
                page.click("#play")
                time.sleep(args.seconds)
                stats = page.evaluate("() => ({...pgStats, now: performance.now()})")
                page.click("#play")
                secs = (stats["now"] - stats["started"]) / 1000
                runs.append({"fps": stats["frames"] / secs, "epochs_per_s": stats["epochs"] / secs,
                             "steps_per_s": stats["epochs"] * 25 / secs,
                             "draw_ms_per_frame": stats.get("renderMs", 0) / max(stats["frames"], 1)})
            version = browser.version
            browser.close()
    finally:
        proc.terminate()
        proc.wait()
    runs.sort(key=lambda r: r["fps"])
    med = runs[len(runs) // 2]
    print(json.dumps({"chromium": version, "fragment": args.fragment, "seconds": args.seconds,
                      "runs": runs, "median": med, "load": os.getloadavg()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
