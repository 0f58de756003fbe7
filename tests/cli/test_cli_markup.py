"""User text is text: brackets in a spec or a ``--set`` value never read as rich markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferbench.cli.main import main

SPEC = 'ferbench: 1\nname: markup\ndescription: "[/red] [bold]x"\ndataset: {kind: synthetic}\n'


def _plan(tmp_path: Path, capsys: pytest.CaptureFixture[str], *sets: str) -> tuple[int, str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    args = ["plan", str(spec)]
    for s in sets:
        args += ["--set", s]
    rc = main(args)
    out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    return rc, out.out


def test_plan_prints_a_description_with_markup_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _plan(tmp_path, capsys)
    assert rc == 0
    assert out.splitlines()[0] == "markup  [/red] [bold]x"


def test_plan_prints_set_values_and_paths_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _plan(tmp_path, capsys, 'description="[bold]b[/bold] [dim]c"', "results=out/[x]")
    assert rc == 0
    assert out.splitlines()[0] == "markup  [bold]b[/bold] [dim]c"
    assert "out/[x]/markup/" in out  # markup would have swallowed "[x]"


def test_run_prints_its_results_folder_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The end of ``ferbench run``: a results folder with brackets (the spec's ``results:``) is printed as it is."""
    from types import SimpleNamespace

    import ferbench.cli.table as table
    import ferbench.results.read as read
    import ferbench.run.runner as runner

    folder = tmp_path / "out[/red]" / "[x]"
    done = SimpleNamespace(folder=folder, status="complete", info=SimpleNamespace(to_dict=dict), best_record=None)
    monkeypatch.setattr(runner, "run_spec", lambda *a, **k: [done])
    monkeypatch.setattr(read, "searched_names", lambda *a, **k: ())
    monkeypatch.setattr(table, "best_table", lambda *a, **k: "")
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps at 80 columns off a terminal
    assert main(["run", str(tmp_path / "spec.yaml")]) == 0
    assert f"results: {folder}" in capsys.readouterr().out


def test_verify_prints_folders_and_notes_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    import ferbench.run.verify as verify

    monkeypatch.chdir(tmp_path)  # a short folder name: a table's title wraps at the table's width
    folder = Path("[bold]run")
    diff = SimpleNamespace(trial=0, field="metrics.test.accuracy", recorded=0.5, rerun=0.25)
    result = SimpleNamespace(notes=["data [/red] changed"], trials=[SimpleNamespace(trial=0, compared=3)], ok=False, differences=[diff])
    monkeypatch.setattr(verify, "verify_run", lambda *a, **k: result)
    assert main(["verify", str(folder)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    for literal in ("note: data [/red] changed", f"{folder}: 1 of 3 values differ", f"MISMATCH {folder}: trial(s) 0 did not reproduce"):
        assert literal in out, (literal, out)
