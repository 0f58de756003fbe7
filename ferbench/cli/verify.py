"""``ferbench verify``: re-train recorded trials and compare them with their records.

Importing this module is cheap: TensorFlow and Optuna are imported when a trial is
re-trained. The logic is :mod:`ferbench.run.verify`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

#: Rows of the differences table shown per run before "... and N more".
SHOWN = 25


def _value(v: object) -> str:
    if isinstance(v, float):
        return repr(v)
    return "(absent)" if v is None else str(v)


def _delta(a: object, b: object) -> str:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return f"{b - a:+.3g}"
    return ""


def _parse_trials(values: list[str] | None) -> list[int] | str | None:
    from ferbench.errors import FerbenchError

    if not values:
        return None
    if any(v.strip().lower() == "all" for v in values):
        return "all"
    try:
        return [int(v) for v in values]
    except ValueError:
        raise FerbenchError(f"--trial takes a trial number or 'all'; got {', '.join(values)}") from None


def _by_run(run_dirs: list[Path]) -> list[list[Path]]:
    """The folders grouped by run id, in the order given: the folders of one run (one per host) are verified as one."""
    from ferbench.errors import FerbenchError
    from ferbench.results.read import read_run_record

    groups: dict[str, list[Path]] = {}
    for d in run_dirs:
        try:
            key = read_run_record(d / "run.json").run_id
        except FerbenchError:
            key = f"unreadable:{d}"  # verify_run says what is wrong with it
        groups.setdefault(key, []).append(d)
    return list(groups.values())


_RUN_DIRS = typer.Argument(..., metavar="RUN_DIR", help="Run folders (results/<name>/<run id>); folders of one run id "
                           "(one per host) are verified as one run.")
_TRIAL = typer.Option(None, "--trial", metavar="N|all", help="Trial to re-train (repeatable, or 'all'); default the best trial.")


def verify(
    run_dirs: list[Path] = _RUN_DIRS,
    trial: list[str] | None = _TRIAL,
    tolerance: float | None = typer.Option(None, "--tolerance", min=0.0, metavar="X",
                                           help="Compare real numbers within X (|a-b| <= X*max(1,|a|,|b|)) instead of "
                                                "exactly; also allows a different environment or a non-deterministic run."),
) -> None:
    """Re-train recorded trials from their spec, seed and parameters; compare with the records.

    Exit status: 0 when every re-run matches its record (exactly unless --tolerance),
    1 when a value differs (a table shows which), 2 when a run cannot be verified
    (record incomplete, data changed, package versions or machine differ without
    --tolerance, run not deterministic without --tolerance).
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ferbench.errors import FerbenchError
    from ferbench.run.verify import verify_run

    # Not a terminal (CI logs, pipes): wide enough that full-precision values never get cut.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    chosen = _parse_trials(trial)
    mismatch = cannot = False
    for group in _by_run(run_dirs):
        folder = " + ".join(map(str, group))
        try:
            result = verify_run(group, trials=chosen, tolerance=tolerance,
                                say=lambda text: print(text, file=sys.stderr, flush=True))
        except FerbenchError as exc:  # CannotVerify, or a device the run needs is missing
            print(f"cannot verify {folder}: {exc}", file=sys.stderr)
            cannot = True
            continue
        how = "exactly" if tolerance is None else f"within {tolerance:g}"
        for note in result.notes:
            console.print(f"note: {note}", highlight=False, markup=False)
        numbers = ", ".join(str(t.trial) for t in result.trials)
        compared = sum(t.compared for t in result.trials)
        if result.ok:
            # One line whatever its length (folders of several hosts): logs are read by scripts too.
            console.print(f"ok  {folder}: trial(s) {numbers} reproduced {how} ({compared} values)", highlight=False, markup=False,
                          soft_wrap=True)
            continue
        mismatch = True
        diffs = result.differences
        table = Table(title=Text(f"{folder}: {len(diffs)} of {compared} values differ ({how})"))
        for col, justify in (("trial", "right"), ("field", "left"), ("recorded", "right"), ("re-run", "right"), ("difference", "right")):
            table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for d in diffs[:SHOWN]:
            table.add_row(str(d.trial), d.field, _value(d.recorded), _value(d.rerun), _delta(d.recorded, d.rerun))
        if len(diffs) > SHOWN:
            table.add_row("", f"... and {len(diffs) - SHOWN} more", "", "", "")
        console.print(table)
        console.print(f"MISMATCH  {folder}: trial(s) {numbers} did not reproduce {how}", highlight=False, markup=False,
                      soft_wrap=True)
    if mismatch:
        raise typer.Exit(1)
    if cannot:
        raise typer.Exit(2)
