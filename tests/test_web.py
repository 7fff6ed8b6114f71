"""The page in a real headless Chromium: greedy poems equal infer.py's, sampled ones keep every rule,
bad input shows its message. Locally these skip (saying what to install) when Chromium, playwright
or web/node_modules are missing; under CI=true they fail instead."""

import functools
import json
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest

from conftest import ROOT, run_script
from poemnet.common.forms import FORMS
from poemnet.evaluate import matching_templates, rhymes

pytestmark = pytest.mark.slow  # training runs, launched processes, a browser: left out of make test-fast

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHIPPED = ROOT / "models" / "poemnet-release-int8.onnx"


def missing():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright-python (pip install playwright; never `playwright install`)"
    if not os.path.exists(CHROMIUM):
        return "Debian's chromium (apt-get install chromium)"
    if not (ROOT / "web" / "node_modules" / "onnxruntime-web").is_dir():
        return "onnxruntime-web (cd web && npm ci)"
    return None


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    need = missing()
    if need:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests need {need}")
        pytest.skip(f"the browser tests need {need}")
    dist = tmp_path_factory.mktemp("web") / "dist"
    built = run_script("web/build.py", "--model", SHIPPED, "--out", dist)
    assert built.returncode == 0, built.stderr
    handler = functools.partial(QuietHandler, directory=str(dist))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(page_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def open_page(browser, page_url, **params):
    page = browser.new_page()
    page.goto(page_url + "?" + urlencode({**params, "auto": "1"}))
    page.wait_for_function("['done', 'error'].includes(document.body.dataset.state)", timeout=120_000)
    return page


def page_poems(page):
    assert page.evaluate("document.body.dataset.state") == "done", page.inner_text("#error")
    texts = [e.get_attribute("data-text") for e in page.query_selector_all("#poems > *")]
    details = page.evaluate("window.poemnet.poems")
    assert (
        texts == [d["text"] for d in details]
        and [e.inner_text().replace("\n", "") for e in page.query_selector_all("#poems > *")] == texts
    )
    return details


CASES = {
    "plain": ({}, []),
    "start": ({"start": "山"}, ["--start", "山"]),
    "acrostic": ({"acrostic": "春秋山风花天云江"}, ["--acrostic", "春秋山风花天云江"]),
    "rhyme+tones": ({"rhyme": "1", "tones": "1"}, ["--rhyme", "--tones"]),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_greedy_poems_in_the_page_equal_infer_py(browser, page_url, form):
    for name, (params, args) in CASES.items():
        lines = FORMS[form].num_lines
        if name == "acrostic":
            params, args = {"acrostic": params["acrostic"][:lines]}, ["--acrostic", args[1][:lines]]
        page = open_page(browser, page_url, form=form, greedy="1", n="1", **params)
        in_page = page_poems(page)
        page.close()
        result = run_script("infer.py", "--model", SHIPPED, "--form", form, "--greedy", "--json", *args)
        assert result.returncode == 0, result.stderr
        expected = json.loads(result.stdout)["poems"]
        assert [p["text"] for p in in_page] == [p["text"] for p in expected], (form, name)
        assert [p.get("template") for p in in_page] == [p.get("template") for p in expected]


@pytest.mark.parametrize("form", ["五绝", "七律"])
def test_sampled_poems_keep_layout_rhyme_and_template(browser, page_url, form, tmp_path):
    f = FORMS[form]
    for seed in (1, 2, 3):
        page = open_page(
            browser, page_url, form=form, rhyme="1", tones="1", no_repeat="1", novel="1", seed=str(seed), n="3"
        )
        poems = page_poems(page)
        page.screenshot(path=str(tmp_path / f"page-{seed}.png"))
        page.close()
        assert (tmp_path / f"page-{seed}.png").stat().st_size > 10_000
        for poem in poems:
            assert f.matches(poem["text"]), poem
            if not poem["relaxed"]:
                assert rhymes(poem["text"], f) and poem["template"] in matching_templates(poem["text"], f), poem
                chars = poem["text"].replace("，", "").replace("。", "")
                assert len(set(chars)) == len(chars)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"start": "𠀀"}, "is not in the model's vocabulary"),
        ({"acrostic": "春夏秋"}, "the acrostic needs 4 characters for a 五绝, got 3"),
        ({"rhyme": "火星"}, "火星 is not a 平水韵 平 group"),
        ({"form": "宋词"}, "form 宋词 is not one this model knows"),
    ],
)
def test_bad_input_shows_its_message_in_the_page(browser, page_url, params, message):
    page = open_page(browser, page_url, **{"form": "五绝", **params})
    assert page.evaluate("document.body.dataset.state") == "error"
    assert message in page.inner_text("#error")
    assert page.query_selector_all("#poems > *") == []
    page.close()
