"""The reference pages cannot rot: every ```python block of docs/*.md runs, in order, in one
namespace per page, from the repository root, and the `test_*` functions a page defines are called
(fixtures given by their plain functions, `@pytest.mark.ssdref_golden` cases one by one).
docs/tutorial.md has its own runner (tests/test_tutorial.py), which also checks its figures."""
import inspect
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
PAGES = sorted(name for name in os.listdir(os.path.join(ROOT, "docs"))
               if name.endswith(".md") and name != "tutorial.md")


def _fixtures():
    from ssdref.testing import compare, goldens
    from ssdref.testing.compare import TOLERANCES

    def golden_case(name, root=None, verify=True):
        return goldens.load_golden(name, root=root, verify=verify)
    return {"golden_case": golden_case, "ssdref_tolerances": TOLERANCES,
            "assert_detections_equal": compare.assert_detections_equal,
            "assert_targets_equal": compare.assert_targets_equal,
            "assert_allclose_dtype": compare.assert_allclose_dtype}


def _call_tests(namespace, page):
    fixtures = _fixtures()
    called = 0
    for name, fn in list(namespace.items()):
        if not (name.startswith("test_") and callable(fn)):
            continue
        marks = {m.name: m for m in getattr(fn, "pytestmark", [])}
        parameters = [p for p in inspect.signature(fn).parameters if p != "ssdref_golden_case"]
        kwargs = {p: fixtures[p] for p in parameters if p in fixtures}
        if "ssdref_golden" in marks:
            for case_name in marks["ssdref_golden"].args:
                fn(ssdref_golden_case=fixtures["golden_case"](case_name), **kwargs)
        else:
            fn(**kwargs)
        called += 1
    return called


@pytest.mark.parametrize("page", PAGES)
def test_every_python_block_of_the_page_runs(page, monkeypatch):
    path = os.path.join(ROOT, "docs", page)
    text = open(path, encoding="utf-8").read()
    monkeypatch.chdir(ROOT)
    namespace = {"__name__": f"docs_{page[:-3].replace('-', '_')}"}
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        code = compile("\n" * (line - 1) + match.group(1), path, "exec")
        try:
            exec(code, namespace)
        except Exception as exc:
            raise AssertionError(f"docs/{page}: the block at line {line} failed: "
                                 f"{type(exc).__name__}: {exc}") from exc
    _call_tests(namespace, page)


def test_the_testing_kit_page_defines_and_runs_its_example_tests():
    text = open(os.path.join(ROOT, "docs", "testing-kit.md"), encoding="utf-8").read()
    assert len(FENCE.findall(text)) >= 4 and "def test_my_targets_match_goldens" in text
