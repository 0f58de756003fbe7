"""Every problem of a spec at once, each once: a non-finite number hides no other error, an unset
variable is one message, and a billion-parameter model is warned about."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferbench.cli.main import main
from ferbench.spec import check_file

QUICKSTART = Path(__file__).resolve().parents[2] / "benchmarks" / "quickstart.yaml"


def test_a_non_finite_number_hides_no_other_error(tmp_path: Path) -> None:
    spec = tmp_path / "nf.yaml"
    spec.write_text("ferbench: 1\nname: nf\ndataset: {kind: synthetic, image_size: 32}\n"
                    "model: {width: .nan, depth: 7000, bogus: 1}\ntrain: {max_epochs: -3}\n", encoding="utf-8")
    errors = [f"{p.path}: {p.message}" for p in check_file(spec).errors]
    assert errors[0] == "model.width: must be a finite number, got .nan"
    assert any(e.startswith("model.depth:") for e in errors)
    assert any(e.startswith("model.bogus:") for e in errors)
    assert any(e.startswith("train.max_epochs:") for e in errors)
    assert sum(e.startswith("model.width") for e in errors) == 1


def test_an_unset_variable_is_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FERBENCH_TEST_UNSET_SEED", raising=False)
    spec = tmp_path / "uv.yaml"
    spec.write_text("ferbench: 1\nname: uv\nseed: ${FERBENCH_TEST_UNSET_SEED}\ndataset: {kind: synthetic, image_size: 32}\n",
                    encoding="utf-8")
    assert main(["validate", str(spec)]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "spec(s) invalid" not in line]
    assert len(lines) == 1 and "FERBENCH_TEST_UNSET_SEED is not set" in lines[0], lines


BIG = ["--set", "model.width=4", "--set", "model.depth=4", "--set", "model.top_filters=8192",
       "--set", "model.stages=[0, 1, 2, 3, 4, 5, 6]"]


@pytest.mark.parametrize("command", [["validate"], ["model", "summary"]])
def test_a_billion_parameter_model_is_warned_about(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, str(QUICKSTART), *BIG]) == 0
    err = capsys.readouterr().err
    assert "warning: model: the largest model this spec plans has 1.3 billion parameters" in err
    assert main([*command, str(QUICKSTART)]) == 0
    assert "billion" not in capsys.readouterr().err
