"""The README's two set-up commands stay true: CI runs exactly the test command."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, re.S)]


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    main_cmd, test_cmd = _bash_blocks(setup)[:2]
    assert "ferbench run benchmarks/quickstart.yaml" in main_cmd
    assert "pytest" in test_cmd
    ci = (REPO / ".ci" / "run").read_text()
    assert f'TEST_CMD="{test_cmd}"' in ci


def test_benchmarks_in_readme_exist():
    readme = (REPO / "README.md").read_text()
    for name in re.findall(r"`(\w+\.yaml)`", readme.split("## The specs in", 1)[1].split("\n## ", 1)[0]):
        assert (REPO / "benchmarks" / name).is_file(), name
