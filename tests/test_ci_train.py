"""词 end to end: a tiny model trained on the embedded 五绝 and five 词牌 (data.ci_corpus), exported,
writes 词 with every rule in onnxruntime and in torch (the same greedy poems), through the command
and the API, and the 词 evaluation measures it beside the human 词."""

import json

import pytest
from ci_model import CI_FORMS

from conftest import ROOT, assert_clean_error, run_script
from poemnet.common import corpus, form_data
from poemnet.generation import ci_check
from poemnet.generation.generate import Constraints, generate_detailed, poem_rules
from poemnet.generation.runtime import PoemModel
from poemnet.generation.sampling import Sampling

pytestmark = pytest.mark.slow  # trains a model

CI_SET = ["data.ci_corpus=embedded", f"data.ci_forms=[{','.join(CI_FORMS)}]"]


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    """(final artifact dir, fp32 model path, int8 model path)."""
    from poemnet.training.config import load_config
    from poemnet.training.trainer import train

    run_dir = tmp_path_factory.mktemp("ci_run")
    overrides = [f"output.dir={run_dir}", "train.max_steps=60", "train.num_samples=0", *CI_SET]
    final = train(load_config(ROOT / "configs" / "tiny.yaml", overrides))
    out = run_dir / "tiny.onnx"
    result = run_script("export.py", "--artifact", final, "--out", out, "--quantize", "int8")
    assert result.returncode == 0, result.stderr
    return final, out, out.with_name("tiny-int8.onnx")


def test_the_model_learns_the_cipai_as_forms(ci_run):
    from poemnet.training import artifact

    trained = artifact.read(ci_run[0])
    cipai = [name for name in form_data.supported_cipai() if name in CI_FORMS]  # most poems first
    assert trained.forms == ["五绝", *cipai] and cipai[:2] == ["浣溪沙", "水调歌头"]
    assert [t[1:-1] for t in trained.vocab.tokens[4:13]] == ["五绝", "七绝", "五律", "七律", *cipai]
    model = PoemModel(ci_run[1])
    assert [f.name for f in model.forms] == ["五绝", *cipai]
    assert model.forms[2] == form_data.form_named("水调歌头") and model.forms[2].pian == 9
    assert json.loads(model.props["training"])["ci_corpus"] == "embedded"


def test_greedy_ci_with_every_rule_is_identical_through_torch_and_onnxruntime(ci_run):
    from poemnet.training import artifact
    from poemnet.training.model import numpy_step_fn

    torch_model = artifact.read(ci_run[0]).model
    model = PoemModel(ci_run[1])
    for form in model.forms[1:]:
        acrostic = dict(enumerate("春秋山风花天云江月日长水人时心高一不东西中年白青"[: form.num_lines]))
        decoder = poem_rules(
            model.vocab,
            form,
            constraints=Constraints(acrostic, rhyme=True, tones=True, no_repeat=True, novel=True),
            prosody=model.prosody,
            line_filter=model.line_filter,
        )
        via_onnx = generate_detailed(model.step, model.zero_state, model.vocab, form, 3, decoder, Sampling(greedy=True))
        via_torch = generate_detailed(*numpy_step_fn(torch_model), model.vocab, form, 3, decoder, Sampling(greedy=True))
        assert via_torch == via_onnx
        assert all(form.matches(p["text"]) for p in via_onnx)


def test_the_command_writes_a_ci_by_its_traditional_name(ci_run):
    args = ["-m", "poemnet", "write", "--model", ci_run[2], "--form", "水調歌頭", "--rhyme", "--tones"]
    result = run_script(*args, "--no-repeat", "--novel", "--acrostic", "春江花月夜" * 3 + "风雨人间", "--json")
    assert result.returncode == 0, result.stderr
    poem = json.loads(result.stdout)["poems"][0]
    form = form_data.form_named("水调歌头")
    assert json.loads(result.stdout)["form"] == "水调歌头" and form.matches(poem["text"])
    assert [line[0] for line in poem["lines"]] == list("春江花月夜" * 3 + "风雨人间")
    assert poem["rhyme_group"].startswith("第") and "--form 水调歌头" in poem["again"]
    assert_clean_error(run_script("-m", "poemnet", "write", "--model", ci_run[2], "--form", "临江仙"), "was trained on")


def test_the_evaluation_of_ci_meets_the_targets(ci_run):
    model = PoemModel(ci_run[2])
    poems = corpus.load(corpus.resolve_ci("embedded"))
    rows = ci_check.ci_rows(model, model.forms, 24, 1, poems, presets=("plain", "all"))
    by = {(r["form"], r["preset"]): r for r in rows}
    for form in (*CI_FORMS, "词 (all)"):
        plain, ruled, human = by[form, "plain"], by[form, "all"], by[form, ci_check.HUMAN]
        assert plain["layout"] == ruled["layout"] == 1.0  # the layout rule is always on
        assert ruled["copy_rate"] == 0.0 and ruled["repeated_end_rate"] == 0.0
        whole = 1.0 - ruled["relaxed_share"]  # poems where no rule gave way keep every rule
        assert ruled["tones_exact"] >= whole and ruled["rhyme_rate"] >= whole and whole >= 0.9, ruled
        assert ruled["tones"] > plain["tones"] and ruled["rhyme_rate"] > plain["rhyme_rate"]
        assert 0.9 < human["tones"] < 1.0 and human["rhyme_rate"] < 1.0
    assert by["词 (all)", ci_check.HUMAN]["layout"] < 1.0  # human 词 come in variant layouts too
    print(json.dumps([{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows]))
