"""Open the built page (web/dist) in headless Chromium, write poems, save docs/web.png (a desktop)
and docs/web-phone.png (a phone, 竖排), and print timings.

    python web/screenshot.py [--query 'form=七律&rhyme=1&tones=1&n=2&seed=3']

Needs a CJK font (Debian: apt-get install fonts-noto-cjk), else Chromium draws boxes; the script
refuses then. Prints the page's model load time and its time per poem, beside infer.py's for the
same request.
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
MODEL = ROOT / "poemnet" / "models" / "poemnet-release-int8.onnx"  # the one web/build.py puts in the page
DESKTOP = {"viewport": {"width": 1100, "height": 700}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
# Two different characters drawn alike are the same missing-glyph box (or nothing): no CJK font.
GLYPHS_DIFFER = """(() => {
    const canvas = Object.assign(document.createElement('canvas'), {width: 64, height: 32}), g = canvas.getContext('2d');
    g.font = '28px ' + getComputedStyle(document.body).fontFamily;
    const draw = (ch) => { g.clearRect(0, 0, 64, 32); g.fillText(ch, 2, 28); return g.getImageData(0, 0, 64, 32).data.join(); };
    return draw('风') !== draw('凤');
})()"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def shoot(browser, url, options, out, full_page):
    """Open `url`, wait for the poems, save a screenshot: (the body's data attributes, seconds to done)."""
    page = browser.new_page(**options)
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)", timeout=120_000)
    wall = time.perf_counter() - started
    state = page.evaluate("({...document.body.dataset})")
    if state["state"] != "done":
        sys.exit(f"error: the page says {page.inner_text('#error')}")
    if not page.evaluate(GLYPHS_DIFFER):
        sys.exit("error: Chromium draws Chinese as boxes: install a CJK font (apt-get install fonts-noto-cjk)")
    page.screenshot(path=str(out), full_page=full_page)
    page.close()
    return state, wall


def infer_ms(query):
    """infer.py's median time per poem (1 thread) for the request the page wrote."""
    params = {k: v[0] for k, v in parse_qs(query).items()}
    flags = ["--form", params.get("form", "五绝"), "--n", "1", "--json", "--threads", "1"]
    flags += ["--rhyme", "--tones"] if "rhyme" in params else []
    flags += ["--no-repeat"] if params.get("no_repeat") == "1" else []
    times = []
    for seed in range(3):
        command = [sys.executable, "infer.py", "--model", str(MODEL), "--seed", str(seed), *flags]
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        times.append(json.loads(out.stdout)["ms"])
    return sorted(times)[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--query", default="form=七绝&rhyme=1&tones=1&no_repeat=1&n=4&seed=3")
    parser.add_argument("--phone-query", default="form=七绝&rhyme=1&tones=1&n=2&seed=3&vertical=1")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "web.png")
    parser.add_argument("--phone-out", type=Path, default=ROOT / "docs" / "web-phone.png")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(ROOT / "web" / "dist"))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        state, wall = shoot(browser, f"{base}?{args.query}&auto=1", DESKTOP, args.out, full_page=False)
        shoot(browser, f"{base}?{args.phone_query}&auto=1", PHONE, args.phone_out, full_page=True)
        browser.close()
    server.shutdown()
    n = int(parse_qs(args.query).get("n", ["1"])[0])
    print(
        f"page: model load {float(state['loadMs']):.0f} ms, {float(state['ms']) / n:.0f} ms per poem ({n} poems), "
        f"{wall:.1f} s from navigation to done; infer.py (1 thread): {infer_ms(args.query):.0f} ms per poem; "
        f"wrote {args.out} and {args.phone_out}"
    )


if __name__ == "__main__":
    main()
