"""``ferbench report`` works from files alone: no TensorFlow, Keras or Optuna import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from ferbench.cli.report import app
out = sys.argv[2]
for args in ([sys.argv[1], "--compare", "--format", "json", "--no-plots"],
             [sys.argv[1], "--compare", "--format", "html", "--out", out]):
    try:
        app(args)
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
import json
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "optuna"))))
"""


def test_report_compare_imports_no_tensorflow(results_dir: Path, tmp_path: Path):
    # One affectnet run keeps the plotting part short; the compare path is the same for all runs.
    run = next((results_dir / "scaled_affectnet").iterdir())
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(run), str(tmp_path / "r.html")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    assert (tmp_path / "r.html").stat().st_size > 50_000  # the html with plots was really made
