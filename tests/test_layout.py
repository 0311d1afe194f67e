"""The layering rules of docs/architecture.md hold: the specification never imports the kernels,
and only the kernels (and ssdref.mathf's compiled libm helpers, and backend.py asking whether
numba.cuda is there) know Numba."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ssdref"


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_the_specification_does_not_import_the_kernels():
    offenders = [f"{path.relative_to(PACKAGE.parent)} imports {name}"
                 for folder in ("layers", "multibox") for path in sorted((PACKAGE / folder).glob("*.py"))
                 for name in _imports(path) if name == "ssdref.kernels" or name.startswith("ssdref.kernels.")]
    assert not offenders, offenders


def test_only_the_kernels_and_mathf_know_numba():
    allowed = {PACKAGE / "mathf.py", PACKAGE / "backend.py"}     # backend: is numba.cuda there?
    offenders = [str(path.relative_to(PACKAGE.parent)) for path in sorted(PACKAGE.rglob("*.py"))
                 if "kernels" not in path.relative_to(PACKAGE).parts and path not in allowed
                 and any(name == "numba" or name.startswith("numba.") for name in _imports(path))]
    assert not offenders, offenders
