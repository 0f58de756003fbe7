"""The ``ferbench`` command line.

Only light modules are imported here: ``validate``, ``plan``, ``schema``, ``new`` and
``report`` never import TensorFlow or Optuna. Commands that train import them inside.
"""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import importlib
import io
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import typer

from ferbench import __version__
from ferbench.cli.common import SET_OPTION, load, print_problems
from ferbench.errors import FerbenchError, SpecError
from ferbench.interrupts import INTERRUPTED_STATUS, handlers_kept, say_interrupted
from ferbench.secrets import redact
from ferbench.spec.new import TEMPLATES

app = typer.Typer(
    name="ferbench",
    help="Declarative benchmarks for facial expression recognition: spec -> plan -> run -> results -> report.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"ferbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool | None = typer.Option(None, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """ferbench: FER benchmarks from YAML specs."""


@app.command()
def validate(
    specs: list[Path] = typer.Argument(..., help="Spec files to check."),
    sets: list[str] | None = SET_OPTION,
    fmt: str = typer.Option("text", "--format", help="text (FILE:LINE:COL: key: message on stderr) or json (on stdout; `ferbench schema problems`)."),
) -> None:
    """Check specs against the schema and the semantic rules; exit 0 when all are valid, 2 otherwise."""
    from ferbench.spec import check_file

    if fmt not in ("text", "json"):
        raise FerbenchError(f"--format {fmt}: use text or json")
    results = []
    for path in specs:
        checked = check_file(path, list(sets or []))
        results.append((str(path), checked.ok, checked.errors + checked.warnings))
        if fmt == "text":
            print_problems(checked.errors + checked.warnings)
            if checked.ok:
                print(f"ok  {path}")
    bad = sum(not ok for _, ok, _ in results)
    if fmt == "json":
        import json

        from ferbench.spec.authoring import problems_document

        print(json.dumps(problems_document(results), indent=2))
    elif bad:
        print(f"{bad} of {len(specs)} spec(s) invalid", file=sys.stderr)
    if bad:
        raise typer.Exit(2)


@app.command()
def schema(
    name: str = typer.Argument("spec", help="spec, record, run, export, model_card, frontier, baselines or problems."),
    install_path: bool = typer.Option(False, "--install-path", help="Print where the schema file is installed instead (for an editor's settings)."),
) -> None:
    """Print a JSON Schema (point your editor's YAML language server at it)."""
    from ferbench.spec.schema import schema_path

    try:
        path = schema_path(f"{name}.schema.json")
    except FileNotFoundError:
        raise FerbenchError(f"no schema named {name!r}; try spec, record, run, export, model_card, frontier, baselines or problems") from None
    sys.stdout.write(f"{path}\n" if install_path else path.read_text(encoding="utf-8"))


@app.command()
def new(
    name: str = typer.Argument(..., help="Experiment name (also the file name NAME.yaml)."),
    template: str = typer.Option("quickstart", "--from", help=f"A template ({', '.join(TEMPLATES)}) or an existing spec file."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Where to write (default ./NAME.yaml)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a new spec from a template; it validates as written."""
    from ferbench.results.atomic import output_target, write_output_text
    from ferbench.spec import check_file
    from ferbench.spec.new import check_name, new_spec_text

    check_name(name)
    target = out or Path(f"{name}.yaml")
    output_target(target)  # a folder, FIFO or device is refused before anything is read or written
    if target.exists() and not force:
        raise FerbenchError(f"{target} exists; pass --force to overwrite it")
    text = new_spec_text(name, template, target)
    write_output_text(target, text)  # whole or not at all; a full disk is one line naming the path
    checked = check_file(target, env={"FERBENCH_DATA": "data"})
    print_problems(checked.errors)
    print(f"wrote {target}" + ("" if checked.ok else " (it does not validate: fix the lines above)"))
    if not checked.ok:
        raise typer.Exit(2)


@app.command()
def plan(
    spec: Path = typer.Argument(..., help="The spec file."),
    sets: list[str] | None = SET_OPTION,
    as_json: bool = typer.Option(False, "--json", help="One JSON object with a runs list (byte-identical for identical input)."),
    storage: str | None = typer.Option(None, "--storage", help="Optuna storage URL (default: SQLite in each run folder; $FERBENCH_STORAGE)."),
) -> None:
    """Show the runs a spec expands into: one per matrix cell and seed, with budgets and costs."""
    from ferbench.cli.plan_view import print_plan
    from ferbench.devices import visible_gpus
    from ferbench.plan import plan_json, plan_spec

    the_plan = plan_spec(load(spec, sets), gpus=visible_gpus(), storage=storage)
    if as_json:
        sys.stdout.write(plan_json(the_plan))
    else:
        print_plan(the_plan)


#: Sub-command groups and commands defined in their own modules: (module, name, help).
_GROUPS = (
    ("ferbench.cli.data", "data", "Inspect datasets: per-split, per-class counts, duplicates, class weights."),
    ("ferbench.cli.model", "model", "Inspect the model: per-stage channels, repeats, parameters and MACs."),
)
_COMMANDS = (
    ("ferbench.cli.report", "report"),
    ("ferbench.cli.run", "run"),
    ("ferbench.cli.run", "evaluate"),
    ("ferbench.cli.worker", "worker"),
    ("ferbench.cli.verify", "verify"),
    ("ferbench.cli.collect", "collect"),
    ("ferbench.cli.export", "export"),
    ("ferbench.cli.cluster", "submit"),
    ("ferbench.cli.cluster", "status"),
    ("ferbench.cli.predict", "predict"),
    ("ferbench.cli.track", "track"),
)


def _mount() -> None:
    for module, name, help_ in _GROUPS:
        app.add_typer(importlib.import_module(module).app, name=name, help=help_)
    for module, name in _COMMANDS:
        mod = importlib.import_module(module)
        app.command(name=name)(getattr(mod, name, None) or getattr(mod, f"{name}_command"))


_mount()


#: A disk that is full, over quota, read-only or failing: the user's to fix, told in one line.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO})


_STDOUT = "standard output"


class _NamedStdout:
    """Standard output whose failed writes name it: ``OSError.filename`` is "standard output"."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _named(self, exc: OSError) -> OSError:
        exc.filename = exc.filename or _STDOUT
        return exc

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise self._named(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise self._named(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _disk_error(exc: OSError) -> str:
    """``cannot write PATH: reason`` for a write that failed on a full, read-only or failing disk."""
    if exc.filename == _STDOUT:
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            # What is still buffered would fail again at exit, with a second message: drop it.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
            os.close(devnull)
        return f"cannot write to standard output: {exc.strerror}"
    return f"cannot write {exc.filename or 'a file'}: {exc.strerror}"


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors are printed without a traceback and exit with 2."""
    if not faulthandler.is_enabled():
        # A crash inside TensorFlow's native code (a segmentation fault) then still
        # says where Python was, on stderr, instead of a bare exit status.
        faulthandler.enable()
    stdout = sys.stdout
    if stdout is sys.__stdout__ and stdout is not None:  # the process's own (not a test's capture)
        sys.stdout = _NamedStdout(stdout)
    try:
        with handlers_kept():  # called in a process that goes on: its SIGINT and SIGTERM handling stays its own
            rc = app(args=argv, standalone_mode=False)
        sys.stdout.flush()  # a full disk under a redirected standard output shows here, not at exit
    except OSError as exc:
        if exc.errno not in _DISK_ERRNOS:
            raise
        print(f"error: {_disk_error(exc)}", file=sys.stderr)
        return 2
    except SpecError as exc:
        print_problems(exc.problems + exc.warnings)
        return 2
    except FerbenchError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        if exc.exit_code == INTERRUPTED_STATUS:
            say_interrupted()
        return exc.exit_code
    except KeyboardInterrupt:
        say_interrupted()
        return INTERRUPTED_STATUS
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except Exception as exc:
        # Usage errors (bad option, missing argument): click's, vendored or not, carry show().
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()
            return 2
        raise
    finally:
        sys.stdout = stdout
    if rc == INTERRUPTED_STATUS:  # typer turns a Ctrl-C in its own code into a silent return of 130
        say_interrupted()
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
