"""The tree is the architecture: readers never read blobs, renderers never reach below the
analysis. Checked on the import statements themselves (ast), so a lazy import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ocianalyze"


def _imports(path: Path) -> set[str]:
    """Every ocianalyze module a file imports, as dotted names relative to the package."""
    found: set[str] = set()
    package = path.relative_to(PACKAGE).parent.parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                module = [*base, *(node.module.split(".") if node.module else [])]
                names = [".".join(module)] + [".".join([*module, a.name]) for a in node.names]
            elif node.module and node.module.startswith("ocianalyze"):
                names = [node.module.removeprefix("ocianalyze").lstrip(".")]
            else:
                continue
            found.update(n for n in names if n)
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("ocianalyze.")
                for a in node.names
                if a.name.startswith("ocianalyze.")
            )
    return found


def _layer_imports(folder: str) -> dict[str, set[str]]:
    return {p.name: _imports(p) for p in sorted((PACKAGE / folder).glob("*.py"))}


def test_readers_never_import_the_walker_or_the_rules() -> None:
    forbidden = {"walker", "tarwalk", "safety", "entries", "verify", "checks", "merge", "analysis"}
    for name, imported in _layer_imports("sources").items():
        assert not {i.split(".")[0] for i in imported} & forbidden, (name, imported)


def test_renderers_import_neither_readers_nor_the_verifier() -> None:
    for name, imported in _layer_imports("report").items():
        roots = {i.split(".")[0] for i in imported}
        assert not roots & {"sources", "verify", "walker", "checks"}, (name, imported)


def test_the_import_scan_sees_relative_imports() -> None:
    """The scanner itself: verify.py imports the walker and the rules."""
    roots = {i.split(".")[0] for i in _imports(PACKAGE / "verify.py")}
    assert {"walker", "checks", "sources"} <= roots
