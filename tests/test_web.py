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
from poemnet.common.form_data import form_named
from poemnet.common.forms import FORMS
from poemnet.evaluate import matching_templates, rhymes

pytestmark = pytest.mark.slow  # training runs, launched processes, a browser: left out of make test-fast

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHIPPED = ROOT / "poemnet" / "models" / "poemnet-release-int8.onnx"


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
def dist(tmp_path_factory):
    need = missing()
    if need:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests need {need}")
        pytest.skip(f"the browser tests need {need}")
    dist = tmp_path_factory.mktemp("web") / "dist"
    built = run_script("web/build.py", "--model", SHIPPED, "--out", dist)
    assert built.returncode == 0, built.stderr
    return dist


@pytest.fixture(scope="module")
def page_url(dist):
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


def wait_for(page, *states):
    page.wait_for_function(f"{list(states)}.includes(document.body.dataset.state)", timeout=120_000)


def open_page(browser, page_url, **params):
    page = browser.new_page()
    page.goto(page_url + "?" + urlencode({**params, "auto": "1"}))
    wait_for(page, "done", "error")
    return page


def page_poems(page):
    assert page.evaluate("document.body.dataset.state") == "done", page.inner_text("#error")
    texts = [e.get_attribute("data-text") for e in page.query_selector_all("#poems > *")]
    details = page.evaluate("window.poemnet.poems")
    assert (
        texts == [d["text"] for d in details]
        and [e.inner_text().replace("\n", "") for e in page.query_selector_all("#poems .verse")] == texts
    )
    return details


def infer_greedy(*args):
    result = run_script("infer.py", "--model", SHIPPED, "--greedy", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["poems"]


CASES = {
    "plain": ({}, []),
    "start": ({"start": "山"}, ["--start", "山"]),
    "acrostic": (
        {"acrostic": "春秋山风花天云江月水人心松竹梅兰菊雪雨烟霞"},
        ["--acrostic", "春秋山风花天云江月水人心松竹梅兰菊雪雨烟霞"],
    ),
    "rhyme+tones": ({"rhyme": "1", "tones": "1"}, ["--rhyme", "--tones"]),
}


@pytest.mark.parametrize("form", [*FORMS, "浣溪沙", "水调歌头"])  # the 诗 forms and two 词牌 of the shipped model
def test_greedy_poems_in_the_page_equal_infer_py(browser, page_url, form):
    for name, (params, args) in CASES.items():
        lines = form_named(form).num_lines
        if name == "acrostic":
            params, args = {"acrostic": params["acrostic"][:lines]}, ["--acrostic", args[1][:lines]]
        page = open_page(browser, page_url, form=form, greedy="1", n="1", **params)
        in_page = page_poems(page)
        page.close()
        expected = infer_greedy("--form", form, *args)
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
        ({"greedy": "on"}, "greedy=on is not a yes or no: use 1, true or yes, or 0, false or no"),
        ({"rhyme": "1", "vertical": "2"}, "vertical=2 is not a yes or no"),
        ({"n": "three"}, "n=three is not a number"),
        (
            {"title": "秋夜寄友人江上月明时节有感"},
            "the title '秋夜寄友人江上月明时节有感' has 13 characters, at most 12",
        ),
        ({"first_line": "床前明月"}, "the first line '床前明月' has 4 characters; the first line of a 五绝 has 5"),
    ],
)
def test_bad_input_shows_its_message_in_the_page(browser, page_url, params, message):
    page = open_page(browser, page_url, **{"form": "五绝", **params})
    assert page.evaluate("document.body.dataset.state") == "error"
    assert message in page.inner_text("#error")
    assert page.query_selector_all("#poems > *") == []
    page.close()


def test_a_given_first_line_and_keywords_appear_as_infer_py_writes_them(browser, page_url):
    """Greedy, with a title: the poem infer.py writes; sampled: each begins with the line, each keyword
    inside one line before its last character. The shipped model knows titles: the field is on."""
    first, words, title = "床前明月光", ["江", "孤舟"], "江夜"
    options = {"form": "五绝", "first_line": first, "keywords": ",".join(words), "rhyme": "1", "tones": "1"}
    page = open_page(browser, page_url, **options, title=title, greedy="1", n="1")
    greedy = page_poems(page)
    off, note_hidden = page.evaluate(
        "[document.querySelector('[name=title]').disabled, document.querySelector('#title-note').hidden]"
    )
    assert not off and note_hidden
    page.close()
    args = ["--form", "五绝", "--first-line", first, "--keywords", ",".join(words), "--rhyme", "--tones"]
    untitled = infer_greedy(*args)
    args += ["--title", title]
    assert [p["text"] for p in greedy] != [p["text"] for p in untitled]  # the title changes the poem
    assert [p["text"] for p in greedy] == [p["text"] for p in infer_greedy(*args)]
    page = open_page(browser, page_url, **options, n="3", seed="5", temperature="1.2")
    sampled = page_poems(page)
    page.close()
    for poem in greedy + sampled:
        lines = [line[:-2] for line in FORMS["五绝"].lines(poem["text"])]  # not a line's last character
        assert poem["text"].startswith(first + "，"), poem
        assert all(any(word in line for line in lines) for word in words), poem


def test_traditional_input_is_read_as_infer_py_reads_it(browser, page_url):
    """The page has no OpenCC: model.json's script_map, made with it, turns 風 and 東 into 风 and 东."""
    params = {"form": "五絕", "start": "風", "rhyme": "東", "tones": "1"}
    page = open_page(browser, page_url, **params, greedy="1", n="1")
    in_page = page_poems(page)
    page.close()
    expected = infer_greedy("--form", "五絕", "--start", "風", "--rhyme", "東", "--tones")
    assert [p["text"] for p in in_page] == [p["text"] for p in expected]
    page = open_page(browser, page_url, **{**params, "form": "七绝", "rhyme": "上平聲一東"}, seed="5", n="3")
    for poem in page_poems(page):
        assert poem["text"][0] == "风" and (poem["relaxed"] or poem["rhyme_group"] == "上平声一东"), poem
    page.close()


def ready_page(browser, page_url, query="", **options):
    page = browser.new_page(**options)
    page.goto(page_url + query)
    wait_for(page, "ready", "done", "error")
    return page


def loaded_bytes(dist):
    return sum(
        (dist / name).stat().st_size for name in ("model.json", "poemnet.onnx", "ort/ort-wasm-simd-threaded.wasm")
    )


def test_the_controls_wait_for_the_model_and_its_download_is_shown(browser, page_url, dist):
    page = browser.new_page()
    page.add_init_script("""window.seen = [];
        new MutationObserver(() => seen.push(+document.body.dataset.loaded || 0))
          .observe(document, {subtree: true, attributes: true, attributeFilter: ['data-loaded']});""")
    held = []
    page.route("**/poemnet.onnx", lambda route: held.append(route))
    page.goto(page_url + "?form=五绝&seed=1&n=1")
    while not held:
        page.wait_for_timeout(50)
    assert page.evaluate("document.body.dataset.state") == "loading"
    assert page.is_disabled("button[type=submit]") and page.is_disabled("input[name=start]")
    assert "正在下载模型" in page.inner_text("#loading")
    page.evaluate("window.marker = 1")
    page.click("button[type=submit]", force=True)  # a click before the model is ready does nothing
    page.evaluate("document.querySelector('#controls').requestSubmit()")  # nor does a submit (Enter)
    held[0].continue_()
    wait_for(page, "ready")
    total, seen = loaded_bytes(dist), page.evaluate("seen")
    assert page.evaluate("window.marker") == 1 and page.query_selector_all("#poems > *") == []
    assert int(page.evaluate("document.body.dataset.total")) == total and seen[-1] == total
    assert any(0 < n < total for n in seen) and seen == sorted(seen), seen[:20]
    assert not page.is_visible("#loading") and page.is_enabled("button[type=submit]")
    page.fill("input[name=start]", "山")
    page.press("input[name=start]", "Enter")  # Enter writes, without a reload
    wait_for(page, "done")
    assert page.evaluate("window.marker") == 1 and page_poems(page)[0]["text"][0] == "山"
    page.close()


def test_opened_from_a_file_the_page_says_how_to_serve_it(browser, dist):
    page = browser.new_page()
    page.goto((dist / "index.html").as_uri())
    wait_for(page, "error")
    assert "make serve" in page.inner_text("#error") and not page.is_visible("#loading")
    page.close()


def test_each_press_draws_new_seeds_and_the_link_writes_the_same_poems(browser, page_url):
    page = ready_page(browser, page_url, "?form=五绝&n=2&rhyme=1")
    runs = []
    for _ in range(2):
        page.click("button[type=submit]")
        wait_for(page, "done")
        seed = page.evaluate("window.poemnet.seed")
        seeds = [int(e.get_attribute("data-seed")) for e in page.query_selector_all("#poems > *")]
        assert seeds == [seed, seed + 1] and f"种子 {seed}" in page.inner_text("#status")
        assert f"seed={seed}" in page.url and "auto=1" in page.url
        runs.append((page.url, seed, [p["text"] for p in page_poems(page)]))
    page.close()
    assert runs[0][1] != runs[1][1]
    for url, seed, texts in runs:  # the link writes them again; seed + 1 alone writes the second
        again = ready_page(browser, url)
        wait_for(again, "done")
        assert [p["text"] for p in page_poems(again)] == texts and again.evaluate("window.poemnet.seed") == seed
        again.close()
        alone = open_page(browser, page_url, form="五绝", rhyme="1", seed=str(seed + 1), n="1")
        assert [p["text"] for p in page_poems(alone)] == texts[1:]
        alone.close()


def test_the_copy_button_copies_the_poem(browser, page_url):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(page_url + "?form=七绝&n=2&seed=4&auto=1")
    wait_for(page, "done")
    lines = page.inner_text("#poems > :nth-child(2) .verse").split("\n")
    page.click("#poems > :nth-child(2) .copy")
    page.wait_for_function("document.querySelector('#poems > :nth-child(2) .copy').textContent === '已复制'")
    assert page.evaluate("navigator.clipboard.readText()") == "\n".join(lines) and len(lines) == 4
    context.close()
    page = browser.new_page()  # without the clipboard API (an http:// page on another host): a textarea
    page.add_init_script("""Object.defineProperty(navigator, 'clipboard', {value: undefined});
        document.execCommand = (command) => { window.copied = [command, document.querySelector('textarea').value]; };""")
    page.goto(page_url + "?form=五绝&n=1&seed=4&auto=1")
    wait_for(page, "done")
    page.click("#poems .copy")
    assert page.evaluate("window.copied") == ["copy", page.inner_text("#poems .verse")]
    page.close()


def test_an_error_clears_the_old_status_and_a_group_needs_rhyme(browser, page_url):
    page = open_page(browser, page_url, form="五绝", n="1", seed="2")
    assert page.inner_text("#status") and page_poems(page)
    page.fill("input[name=start]", "a")
    page.click("button[type=submit]")
    wait_for(page, "error")
    assert "is not a Chinese character" in page.inner_text("#error") and not page.is_visible("#status")
    assert page.query_selector_all("#poems > *") == []
    page.fill("input[name=start]", "")
    page.fill("input[name=group]", "阳")  # typing a group turns 押韵 on ...
    assert page.is_checked("input[name=rhyme]")
    page.uncheck("input[name=rhyme]")  # ... and a group without it is an error, not ignored
    page.click("button[type=submit]")
    wait_for(page, "error")
    assert "韵部「阳」" in page.inner_text("#error")
    page.check("input[name=rhyme]")
    page.fill("input[name=temperature]", "0.85")
    page.click("button[type=submit]")
    wait_for(page, "done")
    assert page.inner_text("#error") == "" and "temperature=0.85" in page.url and "rhyme=%E9%98%B3" in page.url
    assert all(p["relaxed"] or p["rhyme_group"].endswith("阳") for p in page_poems(page))
    page.close()


def test_flags_read_1_true_yes_and_0_false_no(browser, page_url):
    page = ready_page(browser, page_url, "?rhyme=yes&tones=TRUE&no_repeat=1&novel=no&greedy=false&vertical=0")
    checked = page.evaluate("[...document.querySelectorAll('input[type=checkbox]')].map(b => [b.name, b.checked])")
    assert dict(checked) == {
        "rhyme": True,
        "tones": True,
        "no_repeat": True,
        "novel": False,
        "parallel": False,
        "greedy": False,
        "vertical": False,
    }
    assert page.input_value("input[name=group]") == "" and page.input_value("input[name=n]") == "3"
    page.close()
    page = open_page(browser, page_url, form="五律", greedy="no", rhyme="true", tones="1", seed="1")
    assert len(page_poems(page)) == 3  # auto writes the number the box shows
    page.close()


VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
FITS = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
# Two different characters drawn alike are the same missing-glyph box (or nothing): no CJK font.
GLYPHS_DIFFER = """(() => {
    const canvas = Object.assign(document.createElement('canvas'), {width: 64, height: 32}), g = canvas.getContext('2d');
    g.font = '28px ' + getComputedStyle(document.querySelector('.verse')).fontFamily;
    const draw = (ch) => { g.clearRect(0, 0, 64, 32); g.fillText(ch, 2, 28); return g.getImageData(0, 0, 64, 32).data.join(); };
    return draw('风') !== draw('凤');
})()"""


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_the_page_fits_the_screen_shows_each_poems_details_and_stands_vertical(browser, page_url, device, tmp_path):
    page = ready_page(browser, page_url, "?form=七律&n=2&seed=6&rhyme=1&tones=1&auto=1", **VIEWPORTS[device])
    wait_for(page, "done")
    assert page.evaluate(GLYPHS_DIFFER), "Chromium draws Chinese as boxes: install a CJK font (fonts-noto-cjk)"
    for figure, poem in zip(page.query_selector_all("#poems > *"), page_poems(page)):
        caption = figure.query_selector("figcaption")  # on the page, not in a tooltip a phone never shows
        assert caption.is_visible() and caption.query_selector(".copy").is_visible() and poem["template"]
        assert all(part in caption.inner_text() for part in (poem["template"], poem["rhyme_group"]) if part)
    assert page.evaluate(FITS)
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    page.check("input[name=vertical]")  # 竖排: columns from right to left
    assert page.evaluate("getComputedStyle(document.querySelector('.verse')).writingMode") == "vertical-rl"
    boxes = [line.bounding_box() for line in page.query_selector_all("#poems > :first-child .verse span")]
    assert len(boxes) == 8 and all(a["x"] > b["x"] + 10 for a, b in zip(boxes, boxes[1:])), boxes
    assert page.evaluate(FITS) and "vertical=1" in page.url
    page.screenshot(path=str(tmp_path / "vertical.png"), full_page=True)
    page.uncheck("input[name=vertical]")
    assert page.evaluate("getComputedStyle(document.querySelector('.verse')).writingMode") == "horizontal-tb"
    assert "vertical" not in page.url
    page.close()
    assert min((tmp_path / name).stat().st_size for name in ("page.png", "vertical.png")) > 20_000
