"""docs/tutorial.md cannot rot: its ```python blocks run in order, in one namespace, and assert their numbers.

Blocks fenced as ```python are executed from a scratch folder (the tutorial runs from any working directory:
it finds docs/figures/ from ssdref's own location); other fences (```py for quotes of the seed, ```text for
output) are only read. Figures the text shows must exist in docs/figures/. docs/tutorial.ipynb is the same
page as a notebook (jupytext-paired): it must hold the same cells, and it executes under nbclient.
"""
import os
import re

import pytest

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
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SSDREF_TUTORIAL_OUT", str(tmp_path / "out"))
    namespace = {"__name__": "tutorial"}
    for line, source in python_blocks(text):
        # Padding with newlines makes tracebacks point at the tutorial's own line numbers.
        code = compile("\n" * (line - 1) + source, TUTORIAL, "exec")
        try:
            exec(code, namespace)
        except Exception as exc:  # name the block, so a broken tutorial is easy to find
            raise AssertionError(f"docs/tutorial.md: the block at line {line} failed: "
                                 f"{type(exc).__name__}: {exc}") from exc


NOTEBOOK = os.path.join(ROOT, "docs", "tutorial.ipynb")


def test_the_notebook_holds_the_pages_cells():
    import jupytext
    import nbformat
    page = jupytext.read(TUTORIAL)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cells = [(c.cell_type, c.source) for c in page.cells]
    assert cells == [(c.cell_type, c.source) for c in notebook.cells], (
        "docs/tutorial.ipynb is out of date: run `jupytext --sync docs/tutorial.md`")
    assert sum(kind == "code" for kind, _ in cells) == len(python_blocks(open(TUTORIAL).read()))
    assert notebook.metadata["jupytext"]["formats"] == "ipynb,md"


@pytest.mark.slow
def test_the_notebook_executes_from_any_folder(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    monkeypatch.setenv("SSDREF_TUTORIAL_OUT", str(tmp_path / "out"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    assert any(c.get("outputs") for c in notebook.cells if c.cell_type == "code")
