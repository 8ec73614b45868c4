"""docs/architecture.md stays true: the files it names exist and the import rules hold."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
PACKAGE = REPO / "lwa_cli"


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _allowed_imports() -> dict[str, set[str] | None]:
    """package → the packages its table row allows (None: everything)."""
    rows = re.findall(r"^\| (`[^|]+`) \| [^|]+ \| ([^|]+) \|$", _doc(), re.M)
    allowed: dict[str, set[str] | None] = {}
    for names, imports in rows:
        may = None if imports.strip() == "everything" else {
            s.strip() for s in imports.split(",")}
        for name in re.findall(r"`([a-z_]+)`", names):
            allowed[name] = may
    return allowed


def _package_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")


def _lwa_imports(path: Path) -> set[str]:
    """Top-level lwa_cli packages a module imports (anywhere in it, lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "lwa_cli" and len(parts) > 1 and parts[1] != "__version__":
                if (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file():
                    found.add(parts[1])
    return found


def test_every_file_the_page_names_exists():
    named = set(re.findall(r"`((?:lwa_cli|tests|scripts|examples|docs)/[\w/.-]+\.\w+)`",
                           _doc()))
    assert len(named) > 20
    missing = sorted(n for n in named if not (REPO / n).is_file())
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"


def test_every_package_has_a_row():
    allowed = _allowed_imports()
    packages = {_package_of(p) for p in PACKAGE.rglob("*.py")} - {"__init__", "__main__"}
    assert packages <= set(allowed), f"no row in docs/architecture.md: {packages - set(allowed)}"


def test_packages_import_only_what_their_row_allows():
    allowed = _allowed_imports()
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        package = _package_of(path)
        may = allowed.get(package)
        if package in ("__init__", "__main__") or may is None:
            continue
        for target in sorted(_lwa_imports(path) - may - {package}):
            wrong.append(f"{path.relative_to(REPO)} imports lwa_cli.{target}")
    assert not wrong, "imports that docs/architecture.md does not allow:\n" + "\n".join(wrong)


def test_the_rule_check_would_catch_a_numerics_module_opening_the_workspace(tmp_path):
    """The parser sees lazy imports too, so the table is not checked against nothing."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from lwa_cli.workspace import Workspace\n    return 1\n")
    assert _lwa_imports(module) == {"workspace"}
    assert "workspace" not in _allowed_imports()["analysis"]
