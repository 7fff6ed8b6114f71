"""The page's JavaScript (web/src) is a tested twin of the Python generation code.

Python writes golden cases (tests/golden_cases.py) with the random-weights model that knows all
four forms, and `node --test web/test/` checks the JavaScript against them, with onnxruntime-web's
WASM backend under Node (no browser; Chromium stays the end-to-end check in test_web.py):

- every form x {no first character, a start character, an acrostic} x every subset of rhyme,
  tones, no-repeat and novel: 4 x 3 x 16 = 192 greedy poems; per form also a named template, the
  smallest rhyme group (its few characters make no-repeat give way), sampled poems with every rule
  and top-k; then forced relaxations: an acrostic that breaks the tones, one whose last character
  breaks tones and no-repeat at once, 月月月月, and a rhyme group emptied in a variant model.json;
- for each: the request's Sampling, the allowed-token mask and the relaxed rules at every position
  of Python's poem given its own history, the poem's template, rhyme group and relaxations, and for
  the greedy ones the whole poem written by the page's loop (two runtimes may round a near-tie of
  logits apart: a poem may part from Python's only at a gap under 1e-5, in at most 1 poem in 20);
- requests Python's prepare refuses, which request.js must refuse too; rows of masked logits with
  Python's sampled pick under several temperatures, top-k and top-p; damaged model.json files.

Locally the run skips (saying what to install) without node or web/node_modules; under CI=true it fails.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from golden_cases import write_golden

from conftest import ROOT

WEB = ROOT / "web"
TWINS = {"page.js": None}  # the page's controls have no Python twin; infer.py's options are request.py's


def missing():
    if shutil.which("node") is None:
        return "Node.js 20 or later (apt-get install nodejs)"
    if not (WEB / "node_modules" / "onnxruntime-web").is_dir():
        return "onnxruntime-web (cd web && npm ci)"
    return None


def require_node():
    """Skip locally, fail under CI=true, when node or onnxruntime-web is missing."""
    need = missing()
    if need and os.environ.get("CI") == "true":
        pytest.fail(f"the JavaScript twin's test needs {need}")
    if need:
        pytest.skip(f"the JavaScript twin's test needs {need}")


def run_node_twin(golden_dir):
    """`node --test web/test/` against the golden cases in `golden_dir`: (TAP counts, the twin's tally);
    fails with the first failures when any test failed."""
    result = subprocess.run(
        ["node", "--test", "--test-reporter=tap", "web/test/"],
        cwd=ROOT,
        env={**os.environ, "POEMNET_GOLDEN": str(golden_dir)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    failures = [line for line in result.stdout.splitlines() if line.startswith("not ok")]
    assert result.returncode == 0, (failures[:10], result.stdout[-4000:], result.stderr[-2000:])
    counts = {k: int(v) for k, v in re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)$", result.stdout, re.M)}
    tally = json.loads(re.search(r"^# twin checked: (\{.*\})$", result.stdout, re.M).group(1))
    assert counts["fail"] == counts["skipped"] == counts["cancelled"] == 0, counts
    return counts, tally


def test_every_javascript_file_is_named_after_its_python_twin():
    python = {p.stem for p in (ROOT / "poemnet").rglob("*.py")}
    scripts = sorted(p.name for p in (WEB / "src").glob("*.js"))
    assert "request.js" in scripts and "model_file.js" in scripts
    assert [s for s in scripts if s not in TWINS and Path(s).stem not in python] == []


def test_no_javascript_file_hard_codes_what_model_json_says():
    """The reserved ids, the ranges of the characters and the forms' layouts come from model.json."""
    for path in (WEB / "src").glob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\\u\{?[0-9a-fA-F]{4,5}|0x[34]e00|4 \+ 4", text), path.name
        assert not re.search(r"['\"](五绝|七绝|五律|七律)['\"]", text), path.name


@pytest.mark.slow  # launches node
def test_the_javascript_twin_agrees_with_python_on_golden_cases(all_forms_onnx, tmp_path):
    require_node()
    golden = write_golden(all_forms_onnx[0], tmp_path)
    relaxed = {name for poem in golden["poems"] for names in poem["relaxations"] for name in names}
    assert relaxed >= {"tones", "rhyme_group", "no_repeat"}, relaxed  # the golden cases relax
    assert any(len(names) > 1 for poem in golden["poems"] for names in poem["relaxations"])
    counts, tally = run_node_twin(tmp_path)
    masks = sum(len(poem["masks"]) for poem in golden["poems"])
    assert counts["pass"] == len(golden["poems"]) + len(golden["rejected"]) + 4, (
        counts
    )  # + sampling, query, damage, summary
    assert tally["poems"] == len(golden["poems"]) and tally["masks"] == masks, tally
    assert tally["greedy"] == sum(p["greedy"] for p in golden["poems"]) >= 4 * 3 * 16, tally
    assert tally["rejected"] == len(golden["rejected"]) and tally["samples"] == len(golden["sampling"]), tally
