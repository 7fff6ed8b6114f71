"""The page's JavaScript twin on 词: the golden cases of tests/golden_cases.py (ci=True), written with
the random-weights model of tests/ci_model.py (五绝 and five 词牌), checked by `node --test web/test/`.

Every 词牌 of CI_FORMS x {no first character, a start, an acrostic} x CI_SWITCHES (none, each rule
alone, rhyme+tones, all four), greedy; a named 部 and a named 平 group, sampled poems, the
traditional name; then an acrostic of 月 that breaks the rules. At every position of Python's poem
the page must allow the same tokens and relax the same rules; the 词 fields of model.json are checked
as strictly (a damaged 词 model.json is refused).
"""

import pytest
from ci_model import CI_FORMS, make_ci_model
from golden_cases import CI_SWITCHES, write_golden
from test_js_twin import require_node, run_node_twin

pytestmark = pytest.mark.slow  # launches node


@pytest.fixture(scope="module")
def ci_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("ci_twin") / "ci.onnx"
    make_ci_model(path)
    return path


def test_the_javascript_twin_agrees_with_python_on_ci(ci_onnx, tmp_path):
    require_node()
    golden = write_golden(ci_onnx, tmp_path, ci=True)
    names = {poem["name"] for poem in golden["poems"]}
    for form in CI_FORMS:
        for first in ("none", "start", "acrostic"):
            assert {"+".join([form, first, *on]) for on in CI_SWITCHES} <= names, (form, first)
    relaxed = {name for poem in golden["poems"] for names in poem["relaxations"] for name in names}
    assert relaxed >= {"tones", "rhyme_group"}, relaxed  # the 词 cases relax too
    assert {poem["poem"].get("rhyme_group") for poem in golden["poems"]} >= {"第七部", "第一部"}
    counts, tally = run_node_twin(tmp_path)
    # + sampling, query, damage, 词 damage, summary
    assert counts["pass"] == len(golden["poems"]) + len(golden["rejected"]) + 5, counts
    assert tally["poems"] == len(golden["poems"]) and tally["masks"] == sum(len(p["masks"]) for p in golden["poems"])
    assert tally["greedy"] == sum(p["greedy"] for p in golden["poems"]) >= len(CI_FORMS) * 3 * len(CI_SWITCHES)
