"""The wheel ships every subpackage, the templates, the baselines and the JSON Schemas."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "ferbench").rglob("__init__.py")}
    assert on_disk <= listed, f"add to pyproject.toml [tool.setuptools] packages: {sorted(on_disk - listed)}"


#: Distributions whose import name is not their project name.
IMPORT_NAMES = {"pyyaml": "yaml", "scikit-learn": "sklearn", "pillow": "PIL"}


def test_every_dependency_is_imported() -> None:
    """A declared dependency nothing imports is dead weight in every install."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {IMPORT_NAMES.get(n, n.replace("-", "_")) for n in (re.split(r"[\[<>=!~ ;]", d, maxsplit=1)[0].lower() for d in deps)}
    imported: set[str] = set()
    for path in (REPO / "ferbench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert wanted <= imported, f"declared in pyproject.toml but imported nowhere in ferbench/: {sorted(wanted - imported)}"


@pytest.mark.slow
def test_built_wheel_finds_its_schemas(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    if r.returncode != 0:
        pytest.fail(r.stderr[-2000:])
    (wheel,) = tmp_path.glob("ferbench-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(site)
    for name in ("spec", "record", "run", "baselines"):
        assert f"ferbench/_schemas/{name}.schema.json" in names
    assert "ferbench/baselines.yaml" in names
    assert {f"ferbench/templates/{t}.yaml" for t in ("quickstart", "fer2013", "affectnet", "folder", "rafdb", "affectnet8", "ckplus", "cross_dataset")} <= names
    # Imported from the unpacked wheel (no checkout beside it), the loader finds the shipped copy.
    code = "from ferbench.spec.schema import schema_path; print(schema_path('record.schema.json'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=site, capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == site / "ferbench" / "_schemas" / "record.schema.json"
