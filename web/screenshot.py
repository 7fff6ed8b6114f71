"""Open the built page (web/dist) in headless Chromium, write poems, save docs/web.png and print timings.

    python web/screenshot.py [--query 'form=七律&rhyme=1&tones=1&n=2&seed=3']

Prints the page's model load time and its time per poem, beside infer.py's for the same request.
"""

import argparse
import functools
import json
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[1]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--query", default="form=七绝&rhyme=1&tones=1&no_repeat=1&n=4&seed=3")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "web.png")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(ROOT / "web" / "dist"))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/?{args.query}&auto=1"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 760})
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)", timeout=120_000)
        wall = time.perf_counter() - started
        state = page.evaluate("({...document.body.dataset})")
        page.screenshot(path=str(args.out))
        browser.close()
    server.shutdown()
    if state["state"] != "done":
        sys.exit(f"error: the page says {state}")
    params = {k: v[0] for k, v in parse_qs(args.query).items()}
    n = int(params.get("n", 1))
    flags = ["--form", params.get("form", "五绝"), "--n", "1", "--json"] + (
        ["--rhyme", "--tones"] if "rhyme" in params else []
    )
    flags += ["--no-repeat"] if params.get("no_repeat") == "1" else []
    infer_ms = []
    for seed in range(3):
        out = subprocess.run(
            [
                sys.executable,
                "infer.py",
                "--model",
                "models/poemnet-release-int8.onnx",
                "--seed",
                str(seed),
                "--threads",
                "1",
                *flags,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        infer_ms.append(json.loads(out.stdout)["ms"])
    print(
        f"page: model load {float(state['loadMs']):.0f} ms, {float(state['ms']) / n:.0f} ms per poem ({n} poems), "
        f"{wall:.1f} s from navigation to done; infer.py (1 thread): {sorted(infer_ms)[1]:.0f} ms per poem; wrote {args.out}"
    )


if __name__ == "__main__":
    main()
