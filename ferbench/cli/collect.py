"""``ferbench collect``: merge the folders of one run (one per host) into one folder.

Light: no TensorFlow, no Optuna. The logic is :mod:`ferbench.results.collect`.
"""

from __future__ import annotations

from pathlib import Path

import typer

_FOLDERS = typer.Argument(..., metavar="RUN_FOLDER...", help="Folders of one run (results/<name>/<run id>), e.g. one per host.")
_INTO = typer.Option(..., "--into", metavar="DIR", help="The folder to merge into: new, empty, or a folder of the same run to add to.")


def collect(folders: list[Path] = _FOLDERS, into: Path = _INTO) -> None:
    """Merge the folders of one run into one: records, predictions and histories byte for byte, the best model, run.json reconciled.

    Folders of different runs, damaged records and two different records of one
    trial are refused in one line (exit status 2) before anything is written; a
    record already in DIR is never rewritten.
    """
    from ferbench.results.collect import collect as merge

    done = merge(folders, into)
    info = done.info
    sources = sorted({str(f) for f in done.copied.values()})
    print(f"run {info.run_id} ({info.spec_name}) in {done.into}: {len(info.holds or ())} trial(s) "
          f"({len(done.copied)} copied" + (f" from {', '.join(sources)}" if sources else "")
          + (f", {len(done.kept)} there already" if done.kept else "") + f"); hosts {', '.join(info.hosts) or 'unknown'}; "
          f"status {info.status}, best trial {info.best_trial}")
    for note in done.notes:
        print(f"note: {note}")
