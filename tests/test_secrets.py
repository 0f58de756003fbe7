"""Storage passwords are hidden by the URL parser of the library that opens the storage, everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferbench.cli.main import main
from ferbench.secrets import hide_password, redact, remember

#: Passwords SQLAlchemy accepts that a regular expression over "user:password@" misses.
HARD = [
    ("postgresql://u:SEC/RET@127.0.0.1:1/db", "SEC/RET"),
    ("postgresql://u:two words@127.0.0.1:1/db", "two words"),
    ("postgresql://u:s3cr%40t@db.example:5432/optuna", "s3cr@t"),
    ("postgresql+psycopg://u:a:b:c@h:5/db", "a:b:c"),
    ("postgresql://u@h/db?password=qu3ry", "qu3ry"),
]


@pytest.mark.parametrize("url,password", HARD)
def test_hide_password_leaves_no_trace_of_it(url: str, password: str) -> None:
    shown = hide_password(url)
    assert password not in shown and "***" in shown
    assert shown.startswith(url.split("://")[0] + "://u")


@pytest.mark.parametrize("url,password", HARD)
def test_redact_removes_every_form_of_the_password(url: str, password: str) -> None:
    from urllib.parse import quote, quote_plus

    text = f"cannot connect to {url}: password {password!r} ({quote(password, safe='')}, {quote_plus(password)}) refused"
    out = redact(text, url)
    assert password not in out and quote(password, safe="") not in out and quote_plus(password) not in out


def test_remembered_urls_are_hidden_without_being_named_again() -> None:
    url = "postgresql://u:rem/ember@h:1/db"
    remember(url)
    assert "rem/ember" not in redact(f"boom: {url}")


def test_urls_without_credentials_are_shown_as_given() -> None:
    for url in ("sqlite:////tmp/x/study.db", "journal:///tmp/x/study.journal", "sqlite:///relative.db"):
        assert hide_password(url) == url


def test_plan_json_hides_a_password_holding_a_slash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = Path(__file__).resolve().parents[1] / "benchmarks" / "quickstart.yaml"
    url = "postgresql://u:SEC/RET@127.0.0.1:1/db"
    assert main(["plan", str(spec), "--storage", url, "--json"]) == 0
    out = capsys.readouterr().out
    assert "SEC/RET" not in out and "SEC" not in out
    assert json.loads(out)["runs"][0]["storage"] == "postgresql://u:***@127.0.0.1:1/db"


def test_plain_plan_hides_it_too(capsys: pytest.CaptureFixture[str]) -> None:
    spec = Path(__file__).resolve().parents[1] / "benchmarks" / "quickstart.yaml"
    assert main(["plan", str(spec), "--storage", "postgresql://u:two words@127.0.0.1:1/db"]) == 0
    assert "two words" not in capsys.readouterr().out


#: Query parameters that carry secrets: libpq's sslpassword, and any key naming a password, secret or token.
SECRET_QUERIES = ["sslpassword=SSLSECRET", "api_token=SSLSECRET", "client_secret=SSLSECRET", "x_password=SSLSECRET"]


@pytest.mark.parametrize("query", SECRET_QUERIES)
def test_secret_query_values_are_hidden_in_plan_and_plan_json(query: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = Path(__file__).resolve().parents[1] / "benchmarks" / "quickstart.yaml"
    url = f"postgresql://u:pw@127.0.0.1:1/db?{query}&sslmode=require"
    assert hide_password(url).endswith("=***&sslmode=require") or "sslmode=require" in hide_password(url)
    for extra in ([], ["--json"]):
        assert main(["plan", str(spec), "--storage", url, *extra]) == 0
        out = capsys.readouterr()
        assert "SSLSECRET" not in out.out + out.err and "***" in out.out
    assert "SSLSECRET" not in redact(f"boom {url} SSLSECRET")


@pytest.mark.parametrize("value", ["u:pw@h", "u:pw@h/db", "user:pw@host:5432/optuna"])
def test_a_storage_that_is_not_a_url_is_refused_without_its_password(value: str, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    spec = Path(__file__).resolve().parents[1] / "benchmarks" / "quickstart.yaml"
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {spec}\nruntime: {{storage: '{value}'}}\n", encoding="utf-8")
    assert main(["validate", str(child)]) == 2
    err = capsys.readouterr().err
    assert "runtime.storage" in err and "not a storage URL" in err and "pw" not in err
    for cmd in (["plan", str(spec), "--storage", value], ["plan", str(spec), "--storage", value, "--json"]):
        assert main(cmd) == 2
        out = capsys.readouterr()
        assert out.out == "" and len(out.err.strip().splitlines()) == 1
        assert "not a storage URL" in out.err and "pw" not in out.err


def test_report_storage_error_hides_query_secrets_in_one_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("optuna")
    if pytest.importorskip("importlib.util").find_spec("psycopg") is None and \
            pytest.importorskip("importlib.util").find_spec("psycopg2") is None:
        pytest.skip("no PostgreSQL driver (psycopg) installed")
    spec = Path(__file__).resolve().parents[1] / "benchmarks" / "quickstart.yaml"
    url = "postgresql://u:pw@127.0.0.1:1/db?sslpassword=SSLSECRET&connect_timeout=2"
    assert main(["report", "--storage", url, "--spec", str(spec), "--no-plots"]) == 2
    err = capfd.readouterr().err
    assert "SSLSECRET" not in err and "cannot open study storage" in err
    assert len(err.strip().splitlines()) == 1 and "Background on this error" not in err


#: Every kind of secret a storage URL can carry: the password, and query keys naming a password, secret or token.
EVERY_SECRET = ("postgresql://u:PWSECRET@127.0.0.1:1/db?sslpassword=SSLSECRET&password=QPSECRET&client_secret=CSSECRET"
                "&api_token=TKSECRET&connect_timeout=2")


def _tiny_spec(tmp_path: Path) -> Path:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(f"ferbench: 1\nname: tiny\nresults: {tmp_path / 'results'}\ndataset: {{kind: synthetic, image_size: 32}}\n"
                    "model: {stages: [0, 1], width: 0.1, depth: 0.1, top_filters: 8}\ntrain: {max_epochs: 1}\n"
                    "runtime: {devices: cpu}\n", encoding="utf-8")
    return spec


def _no_secret_anywhere(text: str, folder: Path) -> None:
    assert "SECRET" not in text, text
    for p in folder.rglob("*"):
        if p.is_file():
            assert b"SECRET" not in p.read_bytes(), p


@pytest.mark.slow
@pytest.mark.parametrize("command", [["run"], ["worker", "--create"]], ids=["run", "worker"])
def test_run_and_worker_storage_errors_show_no_secret(command: list[str], tmp_path: Path,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    """A storage that does not open: one line, no password and no secret query value in any output or file."""
    import importlib.util

    pytest.importorskip("optuna")
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        pytest.skip("no PostgreSQL driver (psycopg) installed")
    spec = _tiny_spec(tmp_path)
    rc = main([command[0], str(spec), "--storage", EVERY_SECRET, *command[1:]])
    out, err = capfd.readouterr()
    assert rc == 2, out + err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err and "Background on this error" not in err, err
    assert "postgresql://u:***@127.0.0.1:1/db" in lines[0], err
    _no_secret_anywhere(out + err, tmp_path)


@pytest.mark.parametrize("command", ["run", "worker"])
@pytest.mark.parametrize("value", ["u:PWSECRET@h", "user:PWSECRET@host:5432/optuna"])
def test_run_and_worker_refuse_a_storage_that_is_not_a_url_without_its_password(
        command: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    spec = _tiny_spec(tmp_path)
    for how in ("--storage", "$FERBENCH_STORAGE"):
        args = [command, str(spec)] + (["--storage", value] if how == "--storage" else [])
        with monkeypatch.context() as mp:
            if how != "--storage":
                mp.setenv("FERBENCH_STORAGE", value)
            rc = main(args)
        out, err = capfd.readouterr()
        assert rc == 2, out + err
        assert len(err.strip().splitlines()) == 1 and "not a storage URL" in err, (how, err)
        _no_secret_anywhere(out + err, tmp_path)
        assert not (tmp_path / "results").exists()
