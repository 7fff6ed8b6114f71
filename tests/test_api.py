"""The Python API: poemnet.write, PoemNet loaded once, Poem objects that can be written again; the
README's example runs as printed."""

import re
import subprocess
import sys

import pytest

from conftest import ROOT
from poemnet.common.errors import UserError
from poemnet.common.forms import FORMS
from poemnet.generation.verse_check import matching_templates, rhymes


@pytest.fixture(scope="module")
def net():
    import poemnet

    return poemnet.PoemNet()


def test_the_readme_example_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    examples = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "poemnet.write(" in b]
    assert examples, "README.md has no ```python example calling poemnet.write("
    result = subprocess.run([sys.executable, "-c", examples[0]], capture_output=True, text=True, cwd="/", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the example prints nothing"


def test_write_returns_poems_that_keep_every_option():
    import poemnet

    poems = poemnet.write(form="七律", start="月", rhyme=True, tones=True, seed=1, n=2)
    assert [p.index for p in poems] == [0, 1] and {(p.seed, p.batch_size, p.form) for p in poems} == {(1, 2, "七律")}
    for p in poems:
        assert FORMS["七律"].matches(p.text) and p.text[0] == "月" and "".join(p.lines) == p.text
        assert str(p) == "\n".join(p.lines) and p.script == "simplified"
        if not p.relaxations:
            assert rhymes(p.text, FORMS["七律"]) and p.template in matching_templates(p.text, FORMS["七律"])
            assert p.rhyme_group is not None


def test_a_poem_is_written_again_from_its_seed_and_place(net):
    poems = net.write(form="五绝", acrostic="春夏秋冬", n=4)  # a random seed, reported on each poem
    assert len({p.text for p in poems}) > 1
    for p in poems:
        assert net.rewrite(p) == p
        assert "".join(line[0] for line in p.lines) == "春夏秋冬"


def test_a_named_rhyme_group_and_the_traditional_script(net):
    poems = net.write(form="五绝", rhyme="阳", tones=True, seed=3, n=4, script="traditional")
    for p in poems:
        assert p.rhyme_group == "下平声七阳" and p.script == "traditional"
        if not p.relaxations:
            assert rhymes(p.text, FORMS["五绝"], "traditional")
    assert net.rewrite(poems[2]) == poems[2]


def test_bad_arguments_raise_user_errors(net):
    with pytest.raises(UserError, match="rhyme=3 must be True, False"):
        net.write(rhyme=3)
    with pytest.raises(UserError, match="not a regulated form"):
        net.write(form="sonnet")
    with pytest.raises(UserError, match="script 'latin' is not one"):
        net.write(script="latin")
    import poemnet

    with pytest.raises(poemnet.UserError, match="model is empty"):
        poemnet.PoemNet("")


def test_importing_poemnet_imports_nothing_heavy():
    code = (
        "import sys, poemnet; print(sorted(m for m in ('onnxruntime', 'numpy', 'torch', 'opencc') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", (result.stdout, result.stderr)
