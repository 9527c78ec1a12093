"""The layers of docs/ARCHITECTURE.md hold: a layer imports only the layers below it (import-linter's contracts in
pyproject.toml, which CI also runs as `lint-imports`), and the package root is the public face only."""

from pathlib import Path

import pytest

importlinter_cli = pytest.importorskip("importlinter.cli", reason="import-linter is in the dev extra")

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "slateboard"
PUBLIC_ROOT_MODULES = {"__init__.py", "errors.py", "rules.py", "sinks.py"}


def test_every_layer_contract_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    code = importlinter_cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    report = capsys.readouterr().out
    assert code == 0, report
    assert "BROKEN" not in report
    assert report.count("KEPT") >= 2


def test_the_package_root_holds_the_public_face_only() -> None:
    modules = {p.name for p in PACKAGE.glob("*.py")}
    assert modules == PUBLIC_ROOT_MODULES, "private helpers belong in _internal/, features in their layer"
    private = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name.startswith("_") and p.name != "__pycache__"}
    assert private == {"_internal"}
