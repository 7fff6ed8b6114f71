"""The shipped release model: it loads, writes every form with every option, and its card is true."""

import hashlib
import json
import os
import re

import pytest

from conftest import ROOT, run_script
from poemnet.common.form_data import form_named, supported_cipai
from poemnet.common.forms import FORMS
from poemnet.evaluate import matching_templates, rhymes
from poemnet.generation import model_choice
from poemnet.generation.request import Request, prepare, write
from poemnet.generation.runtime import PoemModel

SHIPPED = model_choice.SHIPPED_MODEL


def test_the_shipped_model_knows_the_four_forms_every_cipai_and_titles_and_carries_its_decoding_data():
    model = PoemModel(SHIPPED)
    shi, ci = [f.name for f in model.forms if f.kind == "诗"], [f.name for f in model.forms if f.kind == "词"]
    assert shi == list(FORMS) and ci == list(supported_cipai()) and len(ci) == 112
    assert model.vocab.title_end_id is not None  # titles: the poem given its title
    assert model.prosody is not None and model.line_filter is not None
    assert model.props["quantization"] == "int8" and SHIPPED.stat().st_size < 15_000_000


@pytest.mark.parametrize("form", list(FORMS))
def test_the_shipped_model_writes_valid_poems_with_every_option(form):
    f = FORMS[form]
    acrostic = "春秋山风花天云江"[: f.num_lines]
    for seed, options in enumerate(
        [
            [],
            ["--start", "月"],
            ["--acrostic", acrostic],
            ["--rhyme", "--tones"],
            ["--start", "山", "--rhyme", "--tones", "--no-repeat", "--novel"],
        ]
    ):
        result = run_script(
            "infer.py", "--model", SHIPPED, "--form", form, "--n", "4", "--seed", seed, "--json", *options
        )
        assert result.returncode == 0, result.stderr
        for poem in json.loads(result.stdout)["poems"]:
            assert f.matches(poem["text"]), poem
            if "--rhyme" in options and not poem["relaxed"]:
                assert rhymes(poem["text"], f) and poem["template"] in matching_templates(poem["text"], f), poem
            if "--start" in options:
                assert poem["text"][0] == options[options.index("--start") + 1]
            if "--acrostic" in options:
                assert "".join(line[0] for line in poem["lines"]) == acrostic


@pytest.mark.parametrize("form", ["浣溪沙", "水调歌头", "满江红"])
def test_the_shipped_model_writes_its_cipai_in_their_layout_and_with_a_title_its_shi(form):
    for seed, options in enumerate([[], ["--rhyme", "--tones", "--no-repeat"], ["--start", "月"]]):
        result = run_script(
            "infer.py", "--model", SHIPPED, "--form", form, "--n", "3", "--seed", seed, "--json", *options
        )
        assert result.returncode == 0, result.stderr
        for poem in json.loads(result.stdout)["poems"]:
            assert form_named(form).matches(poem["text"]), poem
    result = run_script("infer.py", "--model", SHIPPED, "--form", "七绝", "--title", "秋夜", "--seed", "3", "--json")
    assert result.returncode == 0 and FORMS["七绝"].matches(json.loads(result.stdout)["poems"][0]["text"])


def test_the_model_card_gives_the_shipped_files_sha256():
    card = (ROOT / "models" / "MODEL_CARD.md").read_text(encoding="utf-8")
    stated = re.search(r"sha256: ([0-9a-f]{64})", card).group(1)
    assert stated == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()


def test_the_shipped_model_is_package_data_and_the_card_beside_the_clone_names_it():
    assert SHIPPED == ROOT / "poemnet" / "models" / "poemnet-release-int8.onnx" and SHIPPED.is_file()
    assert "poemnet/models/poemnet-release-int8.onnx" in (ROOT / "models" / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_infer_prefers_your_newest_export_and_falls_back_to_the_shipped_model(tmp_path, tiny_onnx):
    assert model_choice.default_model(tmp_path) == (SHIPPED, "the shipped release model")
    assert model_choice.default_model(None) == (SHIPPED, "the shipped release model")  # an installed package
    older, newer = tmp_path / "runs" / "a" / "poemnet.onnx", tmp_path / "runs" / "b" / "poemnet-int8.onnx"
    for i, p in enumerate((older, newer)):
        p.parent.mkdir(parents=True)
        p.write_bytes(tiny_onnx[0].read_bytes())
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
    assert model_choice.default_model(tmp_path) == (newer, "your newest export")
    result = run_script(ROOT / "infer.py", "--seed", "1", "--json", cwd=tmp_path)  # runs/ beside infer.py, not the cwd
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model_source"] in ("your newest export", "the shipped release model")


@pytest.mark.parametrize("form", [*FORMS, "菩萨蛮"])
def test_the_shipped_model_writes_poem_i_alike_for_every_batch_size(form):
    """int8 activations are quantized row by row: a poem does not depend on its neighbours."""
    model = PoemModel(SHIPPED)
    for seed in range(6):
        for options in ({}, {"rhyme": "", "tones": True, "no_repeat": True}):
            batches = {
                n: write(model, prepare(model, Request(form=form, seed=seed, n=n, **options))) for n in (1, 3, 8)
            }
            assert batches[1][0] == batches[3][0] == batches[8][0], (seed, options)
            assert batches[3][:3] == batches[8][:3], (seed, options)


def test_the_shipped_model_carries_the_parallel_pairs_of_its_lushi():
    pairs = PoemModel(SHIPPED).parallel_pairs
    vocab = PoemModel(SHIPPED).vocab
    ids, weights = pairs.partners[vocab.index["山"]]
    assert len(pairs.partners) > 3000 and (weights > 0).all()
    assert vocab.index["水"] in set(ids.tolist())  # 山 / 水: the textbook pair
