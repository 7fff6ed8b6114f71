import json

import onnx
import pytest

from conftest import assert_clean_error, run_script
from poemnet.common.forms import FORMS

NO_TORCH = (
    "import sys, runpy; sys.modules['torch'] = None; sys.argv = ['infer.py'] + sys.argv[1:]; "
    "runpy.run_path('infer.py', run_name='__main__')"
)


def infer(*args):
    """infer.py in a subprocess where `import torch` fails."""
    return run_script("-c", NO_TORCH, *args)


def poems_of(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_infer_runs_where_torch_cannot_be_imported(tiny_onnx):
    out = poems_of(infer("--model", tiny_onnx[0], "--start", "月", "--n", "3", "--json", "--seed", "1"))
    assert len(out["poems"]) == 3 and all(p["text"].startswith("月") for p in out["poems"])
    plain = infer("--model", tiny_onnx[0], "--start", "月", "--seed", "1")
    assert plain.stdout.splitlines()[:4] == out["poems"][0]["lines"]


@pytest.mark.parametrize("form", list(FORMS))
def test_every_printed_poem_has_the_exact_form(all_forms_onnx, form):
    acrostic = "春夏秋冬山水风月"[: FORMS[form].num_lines]
    for seed in range(4):
        for extra in ([], ["--acrostic", acrostic], ["--start", "山"]):
            out = poems_of(
                run_script(
                    "infer.py",
                    "--model",
                    all_forms_onnx[0],
                    "--form",
                    form,
                    "--n",
                    "8",
                    "--seed",
                    seed,
                    "--temperature",
                    "1.5",
                    "--json",
                    *extra,
                )
            )
            for poem in out["poems"]:
                assert FORMS[form].matches(poem["text"]), poem
                if extra and extra[0] == "--acrostic":
                    assert "".join(line[0] for line in poem["lines"]) == acrostic
                if extra and extra[0] == "--start":
                    assert poem["text"][0] == "山"


def test_same_seed_same_poems_other_seed_other_poems(tiny_onnx):
    first = poems_of(run_script("infer.py", "--model", tiny_onnx[0], "--n", "4", "--seed", "9", "--json"))
    again = poems_of(run_script("infer.py", "--model", tiny_onnx[0], "--n", "4", "--seed", "9", "--json"))
    other = poems_of(run_script("infer.py", "--model", tiny_onnx[0], "--n", "4", "--seed", "10", "--json"))
    assert first["poems"] == again["poems"] != other["poems"]


def test_a_traditional_start_character_is_mapped_to_the_models_script(tiny_onnx):
    out = poems_of(run_script("infer.py", "--model", tiny_onnx[0], "--start", "風", "--json", "--seed", "2"))
    assert out["poems"][0]["text"][0] == "风"


def test_the_int8_model_generates_too(tiny_onnx):
    out = poems_of(infer("--model", tiny_onnx[1], "--acrostic", "春夏秋冬", "--json", "--seed", "3"))
    assert FORMS["五绝"].matches(out["poems"][0]["text"])


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--start", "𠀀"], "not in the model's vocabulary"),
        (["--start", "a"], "not a Chinese character"),
        (["--start", "明月"], "--start takes one character"),
        (["--acrostic", "春夏秋"], "--acrostic needs 4 characters"),
        (["--acrostic", "春夏秋冬", "--start", "月"], "pass one of them"),
        (["--form", "七律"], "--form 七律 is not one"),
        (["--form", "七言律诗"], "was trained on (it knows 五绝): pass --model shipped"),
        (["--n", "0"], "--n 0 must be between"),
        (["--n", "100000"], "--n 100000 must be between"),
        (["--temperature", "0"], "--temperature 0.0 must be > 0"),
        (["--top-p", "1.5"], "--top-p 1.5 must be in (0, 1]"),
        (["--top-p", "0"], "--top-p 0.0 must be in (0, 1]"),
        (["--top-k", "0"], "--top-k 0 must be >= 1"),
        (["--n", "many"], "invalid int value"),
        (["--seed", "-5"], "--seed -5 must be between 0"),
        (["--temperature", "inf"], "--temperature inf must be > 0 and finite"),
        (["--temperature", "nan"], "--temperature nan must be > 0"),
        (["--threads", "100000"], "--threads 100000 must be between 0 and"),
        (["--threads", "-1"], "--threads -1 must be between 0 and"),
    ],
)
def test_bad_arguments_give_one_line_errors(tiny_onnx, args, fragment):
    assert_clean_error(infer("--model", tiny_onnx[0], *args), fragment)


def test_bad_model_files_give_one_line_errors(tmp_path, tiny_onnx):
    assert_clean_error(infer("--model", tmp_path / "missing.onnx"), "not found")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf")
    assert_clean_error(infer("--model", junk), "not a loadable ONNX model")
    proto = onnx.load(str(tiny_onnx[0]))
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "plain.onnx"))
    assert_clean_error(infer("--model", tmp_path / "plain.onnx"), "not a PoemNet one")
    proto = onnx.load(str(tiny_onnx[0]))
    next(p for p in proto.metadata_props if p.key == "poemnet_format").value = "99"
    onnx.save(proto, str(tmp_path / "future.onnx"))
    assert_clean_error(infer("--model", tmp_path / "future.onnx"), "format 99")


def with_metadata(src, dst, **changes):
    proto = onnx.load(str(src))
    for prop in proto.metadata_props:
        if prop.key in changes:
            prop.value = changes[prop.key]
    onnx.save(proto, str(dst))
    return dst


def edited(path, key, edit):
    """The JSON metadata field `key` of a model file, changed by edit(value) and re-serialised."""
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    value = json.loads(props[key])
    edit(value)
    return json.dumps(value, ensure_ascii=False)


def set_key(key, value):
    return lambda d: d.__setitem__(key, value)


def del_key(key):
    return lambda d: d.pop(key)


# Every field a rule reads is checked before that rule runs: (field, edit or new text, options, message)
DAMAGE = [
    ("vocab", "[not json", [], "vocab is not JSON"),
    ("vocab", "[]", [], "vocabulary must start with"),
    ("forms", '["宋词"]', [], "are not a list of the known forms"),
    ("hidden_dim", "48", [], "it says h is [2, None, 48] but the graph has"),
    ("num_layers", "two", [], "num_layers must be a positive integer"),
    ("script", "latin", [], "neither simplified nor traditional"),
    ("prosody", "{}", ["--rhyme"], "prosody.tones must be"),
    ("prosody", "{}", ["--tones"], "prosody.tones must be"),
    ("prosody", set_key("ping_groups", [[0]]), ["--rhyme"], "must list the groups of all"),
    ("prosody", set_key("group_names", ["一东"]), ["--rhyme"], "not a list of group ids below 1"),
    ("prosody", set_key("templates", {}), ["--tones"], "has no templates for 五绝"),
    (
        "prosody",
        lambda d: d["templates"]["五绝"][0]["lines"].__setitem__(0, "平仄"),
        ["--tones"],
        "template line must be 5 of",
    ),
    ("novel_bloom", "AAAA", ["--novel"], "novel_bloom holds 3 bytes"),
    ("novel_bloom", lambda b: "!!!!" + b[4:], ["--novel"], "novel_bloom is not base64"),
    ("novel", del_key("num_hashes"), ["--novel"], "novel.num_hashes must be a positive integer"),
    ("novel", set_key("num_hashes", "7"), ["--novel"], "novel.num_hashes must be a positive integer"),
    ("novel", set_key("num_hashes", 0), ["--novel"], "novel.num_hashes must be a positive integer"),
    ("novel", set_key("num_bits", 0), ["--novel"], "novel.num_bits must be a positive integer"),
]


@pytest.mark.parametrize("key, change, options, fragment", DAMAGE)
def test_damaged_metadata_gives_one_line_errors(tmp_path, tiny_onnx, key, change, options, fragment):
    if callable(change):
        if key == "novel_bloom":
            props = {p.key: p.value for p in onnx.load(str(tiny_onnx[0])).metadata_props}
            change = change(props[key])
        else:
            change = edited(tiny_onnx[0], key, change)
    path = with_metadata(tiny_onnx[0], tmp_path / "damaged.onnx", **{key: change})
    assert_clean_error(infer("--model", path, *options), "damaged PoemNet metadata", fragment)


def test_a_config_that_is_not_utf8_is_a_one_line_error(tmp_path):
    config = tmp_path / "latin1.yaml"
    config.write_bytes("train:\n  lr: 0.001  # r\xe9glage\n".encode("latin-1"))
    assert_clean_error(run_script("train_dist.py", "--config", config), "is not UTF-8 text")


def test_export_writes_one_checked_self_contained_file_with_metadata(tiny_onnx):
    proto = onnx.load(str(tiny_onnx[0]))
    onnx.checker.check_model(proto)
    assert not list(tiny_onnx[0].parent.glob("*.data"))
    props = {p.key: p.value for p in proto.metadata_props}
    assert (
        json.loads(props["forms"]) == ["五绝"]
        and props["quantization"] == "none"
        and len(props["weights_sha256"]) == 64
    )
    assert props["script"] == "simplified" and json.loads(props["vocab"])[:2] == ["<pad>", "<bos>"]
    assert [i.name for i in proto.graph.input] == ["tokens", "h", "c"]
    assert [o.name for o in proto.graph.output] == ["logits", "h_out", "c_out"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_export_errors_are_one_line(tmp_path):
    assert_clean_error(run_script("export.py", "--artifact", tmp_path / "nope"), "not found")
    (tmp_path / "empty").mkdir()
    assert_clean_error(run_script("export.py", "--artifact", tmp_path / "empty"), "missing model.safetensors")


def test_a_simplified_start_character_is_mapped_for_a_traditional_model(tmp_path):
    from poemnet.common.vocab import Vocab
    from poemnet.training import onnx_export
    from poemnet.training.model import PoemLSTM

    vocab = Vocab.build(["風吹雲動，月照山明。"])
    model = PoemLSTM(len(vocab), 8, 8).eval()
    path = tmp_path / "traditional.onnx"
    onnx_export.export(model, onnx_export.metadata(model, vocab, ["五绝"], "traditional", "0" * 64), path)
    out = poems_of(infer("--model", path, "--start", "风", "--json", "--seed", "1"))
    assert out["poems"][0]["text"][0] == "風"
    assert_clean_error(infer("--model", path, "--start", "龙"), "not in the model's vocabulary")
