"""The `poemnet` command with the shipped model, where torch cannot be imported: write (the seed
line, the other script, aliases, every bad input as one line), list, and the train extra's commands."""

import json
import os
import shlex
import subprocess
import sys

import onnx
import pytest

from conftest import ROOT, assert_clean_error, run_script
from poemnet.common import prosody
from poemnet.common.form_data import supported_cipai
from poemnet.common.forms import FORMS
from poemnet.generation import command, model_choice
from poemnet.generation.request import FORM_ALIASES
from poemnet.generation.verse_check import matching_templates, rhymes

NO_TORCH = (
    "import sys; sys.modules['torch'] = None; sys.argv = ['poemnet'] + sys.argv[1:]; "
    "from poemnet.cli import entry; entry()"
)


def poemnet(*args, **kwargs):
    """`poemnet ARGS` in a subprocess where `import torch` fails."""
    return run_script("-c", NO_TORCH, *args, **kwargs)


def ok(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr, result.stderr
    return result.stdout


def blocks(stdout):
    """Plain output as [(poem lines, the # line's command)]."""
    out = []
    for block in stdout.strip().split("\n\n"):
        *lines, again = block.split("\n")
        assert again.startswith("# "), block
        out.append((lines, again[2:]))
    return out


def test_each_poems_seed_line_writes_that_poem_again_alone():
    written = blocks(ok(poemnet("write", "--form", "五律", "--rhyme", "--tones", "--n", "3", "--seed", "5")))
    assert len(written) == 3 and len({tuple(lines) for lines, _ in written}) == 3
    for lines, again in written:
        words = shlex.split(again)
        assert words[:2] == ["poemnet", "write"] and "--seed" in words
        assert FORMS["五律"].matches("".join(lines))
        assert blocks(ok(poemnet(*words[1:]))) == [(lines, again)]


def test_python_m_poemnet_and_infer_py_write_the_same_poems():
    args = ["--start", "山", "--n", "2", "--seed", "3", "--json"]
    by_module = json.loads(ok(run_script("-m", "poemnet", "write", "--model", "shipped", *args)))
    by_script = json.loads(ok(run_script("infer.py", "--model", "shipped", *args)))
    assert [p["text"] for p in by_module["poems"]] == [p["text"] for p in by_script["poems"]]
    assert by_module["poems"][1]["again"].startswith("poemnet write") and by_module["poems"][1]["index"] == 1


@pytest.mark.parametrize("form", list(FORMS))
def test_traditional_output_keeps_the_rhyme_and_the_template_by_the_traditional_table(form):
    import opencc

    t2s = opencc.OpenCC("t2s")
    args = ["write", "--model", "shipped", "--form", form, "--rhyme", "--tones", "--n", "12", "--seed", "7", "--json"]
    simplified = json.loads(ok(poemnet(*args)))["poems"]
    traditional = json.loads(ok(poemnet(*args, "--script", "traditional")))["poems"]
    changed = 0
    for s, t in zip(simplified, traditional):
        assert FORMS[form].matches(t["text"]) and len(t["text"]) == len(s["text"])
        assert all(t2s.convert(a) == b for a, b in zip(t["text"], s["text"])), (t["text"], s["text"])
        changed += t["text"] != s["text"]
        if not t["relaxed"]:
            assert rhymes(t["text"], FORMS[form], "traditional"), t
            assert t["template"] in matching_templates(t["text"], FORMS[form], "traditional"), t
    assert changed > 0  # it is traditional text, not the simplified poems again


def test_traditional_input_and_every_form_alias_are_accepted():
    for name, aliases in FORM_ALIASES.items():
        for alias in aliases:
            out = json.loads(ok(poemnet("write", "--model", "shipped", "--form", alias, "--seed", "1", "--json")))
            assert out["form"] == name and FORMS[name].matches(out["poems"][0]["text"])
    out = json.loads(ok(poemnet("write", "--start", "風", "--rhyme", "東", "--script", "traditional", "--json")))
    assert out["poems"][0]["text"][0] == "風" and out["poems"][0]["rhyme_group"] == "上平声一东"


def test_greedy_ignores_the_temperature():
    greedy = blocks(ok(poemnet("write", "--model", "shipped", "--greedy", "--seed", "1")))
    cold = blocks(ok(poemnet("write", "--model", "shipped", "--greedy", "--temperature", "0", "--seed", "1")))
    assert cold[0][0] == greedy[0][0]


def test_a_huge_temperature_samples_without_warnings():
    out = poemnet("write", "--model", "shipped", "--temperature", "1e308", "--seed", "1", "--json")
    assert ok(out) and out.stderr == ""
    assert FORMS["五绝"].matches(json.loads(out.stdout)["poems"][0]["text"])


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--model", ""], "--model is empty"),
        (["--model", "poemnet"], "--model poemnet is a folder"),
        (["--rhyme", "东", "--rhyme", "阳"], "--rhyme given twice (--rhyme 东 and --rhyme 阳)"),
        (["--seed", "1", "--seed", "2"], "--seed given twice"),
        (["--threads", "256"], "this machine's CPU cores"),
        (["--n", "2", "--poem", "3"], "--poem 3 must be between 1 and --n 2"),
        (["--form", "宋词"], "--form 宋词 is not a regulated form"),
        (["--script", "latin"], "invalid choice"),
        (["--temperature", "0"], "--temperature 0.0 must be > 0"),
        (["--greedy", "--top-p", "0"], "--top-p 0.0 must be in (0, 1]"),
    ],
)
def test_bad_input_is_one_error_line(args, fragment):
    assert_clean_error(poemnet("write", *args), fragment)


def test_bad_commands_are_one_error_line_and_the_train_extra_is_named():
    assert_clean_error(poemnet(), "name a command")
    assert_clean_error(poemnet("poem"), "'poem' is not a poemnet command")
    for name in ("train", "export"):
        assert_clean_error(poemnet(name, "--help"), f"poemnet {name} needs PyTorch", "pip install 'poemnet[train]'")
    assert "write" in ok(poemnet("--help")) and "usage: poemnet write" in ok(poemnet("write", "--help"))
    assert json.loads(ok(poemnet("corpus", "stats")))["by_form"].keys() == {"五绝"}  # the embedded corpus


def test_the_train_extras_commands_run_where_torch_is_installed():
    for name in ("train", "export"):
        assert f"usage: poemnet {name}" in ok(run_script("-m", "poemnet", name, "--help"))
    assert_clean_error(
        run_script("-m", "poemnet", "export", "--artifact", "nowhere"), "artifact folder nowhere not found"
    )


def test_a_reader_that_leaves_early_is_no_error():
    process = subprocess.Popen(
        [sys.executable, "-c", NO_TORCH, "write", "--model", "shipped", "--n", "4", "--seed", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # like `| head -1` gone before the poems are written
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0 and stderr == "", stderr


def test_an_ascii_stdout_still_gets_the_poems_in_utf8():
    args = ["-c", NO_TORCH, "write", "--model", "shipped", "--seed", "4"]
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    ascii_run = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, env=env, timeout=120)
    assert ascii_run.returncode == 0, ascii_run.stderr
    assert ascii_run.stdout.decode("utf-8") == ok(poemnet(*args[2:]))


def only_forms(src, dst, forms):
    proto = onnx.load(str(src))
    next(p for p in proto.metadata_props if p.key == "forms").value = json.dumps(forms, ensure_ascii=False)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(dst))
    return dst


def test_an_export_that_lacks_the_form_gives_way_to_the_shipped_model_and_says_so(tmp_path, capsys):
    export = only_forms(model_choice.SHIPPED_MODEL, tmp_path / "runs" / "base" / "poemnet-int8.onnx", ["五绝"])
    assert command.main(["--form", "七律", "--seed", "1", "--json"], root=tmp_path) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["model_source"] == "the shipped release model" and str(export) in report["model_note"]
    assert str(export) in err and "the shipped model wrote these poems" in err
    assert command.main(["--form", "五绝", "--seed", "1"], root=tmp_path) == 0
    out, err = capsys.readouterr()
    assert "--model " + str(export) in out and "written by your newest export" in err
    assert_clean_error(
        poemnet("write", "--model", export, "--form", "七律"), f"not one {export} was trained on", "--model shipped"
    )


def test_list_names_every_form_template_and_rhyme_group_from_the_model():
    listing = json.loads(ok(poemnet("list", "--model", "shipped", "--json")))
    assert [f["name"] for f in listing["forms"]] == list(FORMS) and all(f["in_model"] for f in listing["forms"])
    templates = {name: [t["name"] for t in items] for name, items in listing["templates"].items()}
    assert {name: templates[name] for name in FORMS} == {
        name: [t["name"] for t in prosody.templates(form)] for name, form in FORMS.items()
    }
    assert {name: names for name, names in templates.items() if name not in FORMS} == {
        name: ["corpus"]
        for name in supported_cipai()  # a 词牌's one pattern, derived from its poems
    }
    names = prosody.load_table()[1]
    assert [g["name"] for g in listing["rhymes"]] == names and len(names) == 30
    for gid, group in enumerate(listing["rhymes"]):
        assert len(group["characters"]) >= 3
        assert all(prosody.char_info(ch) == (prosody.PING, (gid,)) for ch in group["characters"]), group
    text = ok(poemnet("list", "rhymes", "--model", "shipped"))
    assert all(f"{g['name']}  {' '.join(g['characters'])}" in text for g in listing["rhymes"])


def test_evaluate_runs_on_a_fresh_clone_against_the_embedded_corpus(tmp_path):
    out = tmp_path / "eval.json"
    args = ["evaluate", "--n", "4", "--presets", "plain", "--forms", "五绝", "七绝", "--out", out]
    table = ok(poemnet(*args, cwd=tmp_path))  # no data/poems.jsonl.gz here: the model's corpus is absent
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["corpus"] == "embedded" and result["model"] == str(model_choice.SHIPPED_MODEL)
    assert [(r["form"], r["preset"]) for r in result["rows"]] == [
        ("五绝", "plain"),
        ("七绝", "plain"),
        ("五绝", "human (validation)"),  # the embedded corpus holds 五绝 only
    ]
    assert "| 五绝 | human (validation) |" in table
    assert "usage: python -m poemnet.evaluate" in ok(run_script("-m", "poemnet.evaluate", "--help"))
    assert_clean_error(poemnet(*args, "--corpus", tmp_path / "none.jsonl"), "none.jsonl not found")
    assert_clean_error(poemnet(*args, "--artifact", tmp_path), "needs PyTorch", "pip install 'poemnet[train]'")


def test_plain_output_names_where_a_rule_gave_way():
    result = run_script(
        "-m", "poemnet", "write", "--model", "shipped", "--acrostic", "春春春春", "--no-repeat", "--seed", "1"
    )
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("# gave way")]
    assert notes == [
        f"# gave way at line {k}, character 1: no_repeat (no character there kept every rule)" for k in (2, 3, 4)
    ]
    clean = run_script(
        "-m", "poemnet", "write", "--model", "shipped", "--acrostic", "春夏秋冬", "--no-repeat", "--seed", "1"
    )
    assert "# gave way" not in clean.stdout


def test_the_corpus_command_keeps_the_one_line_contract():
    assert_clean_error(run_script("-m", "poemnet", "corpus"), "required")
    assert "usage: poemnet corpus" in run_script("-m", "poemnet", "corpus", "--help").stdout
