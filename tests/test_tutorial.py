"""docs/tutorial.md cannot rot: its ```python blocks run in order, in one namespace, and assert their numbers.

Blocks fenced as ```python are executed from the repository root (so the tutorial's relative paths, such as
the checkpoint in docs/figures/, resolve); other fences (```py for quotes of the seed, ```text for output)
are only read. Figures the text shows must exist in docs/figures/.
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIAL = os.path.join(ROOT, "docs", "tutorial.md")
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def python_blocks(text):
    """(line number, source) of every ```python block, in order."""
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in FENCE.finditer(text)]


def test_tutorial_has_code_blocks_and_figures():
    text = open(TUTORIAL, encoding="utf-8").read()
    assert len(python_blocks(text)) >= 10
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert figures, "the tutorial shows its figures"
    for path in figures:
        assert os.path.isfile(os.path.join(ROOT, "docs", path)), f"missing figure {path}"


def test_every_python_block_runs_in_order(monkeypatch, tmp_path):
    text = open(TUTORIAL, encoding="utf-8").read()
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SSDREF_TUTORIAL_OUT", str(tmp_path))
    namespace = {"__name__": "tutorial"}
    for line, source in python_blocks(text):
        # Padding with newlines makes tracebacks point at the tutorial's own line numbers.
        code = compile("\n" * (line - 1) + source, TUTORIAL, "exec")
        try:
            exec(code, namespace)
        except Exception as exc:  # name the block, so a broken tutorial is easy to find
            raise AssertionError(f"docs/tutorial.md: the block at line {line} failed: "
                                 f"{type(exc).__name__}: {exc}") from exc
