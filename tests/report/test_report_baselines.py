"""The baselines registry: built-in facts, user files, located errors, cheap ids."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ferbench.baselines_registry import BUILTIN
from ferbench.errors import SpecError
from ferbench.report.baselines import Baseline, baseline_ids, load_baselines, select

#: The line of the built-in human-level entry (the registry's header comment may grow).
HUMAN_LINE = next(i for i, line in enumerate(BUILTIN.read_text().splitlines(), 1) if line.strip() == "- id: human_fer2013")


def _by_id() -> dict[str, Baseline]:
    return {b.id: b for b in load_baselines()}


def test_builtin_registry_holds_the_thesis_facts() -> None:
    b = _by_id()
    assert b["human_fer2013"].accuracy == 0.65 and b["human_fer2013"].accuracy_pm == 0.05 and b["human_fer2013"].is_human
    assert [b[f"khanzada2020_{m}"].accuracy for m in ("resnet50", "senet50", "vgg16")] == [0.677, 0.689, 0.700]
    assert b["khaireddin2021_vggnet"].accuracy == 0.7328
    assert b["arriaga2017_mini_xception"].params == 60000
    base = b["thesis_baseline_fer2013"]
    assert (base.accuracy, base.precision_macro, base.recall_macro, base.f1_macro) == (0.658, 0.631, 0.649, 0.637)
    scaled = b["thesis_scaled_fer2013"]
    assert (scaled.accuracy, scaled.precision_macro, scaled.recall_macro, scaled.f1_macro) == (0.657, 0.637, 0.649, 0.641)
    assert b["poster_v2_affectnet7"].accuracy == 0.6749 and "67.45" in b["poster_v2_affectnet7"].note
    aff = b["thesis_scaled_affectnet"]
    assert (aff.accuracy, aff.precision_macro, aff.recall_macro, aff.f1_macro) == (0.6129, 0.613, 0.613, 0.611)
    assert (b["thesis_unweighted_fer2013"].accuracy, b["thesis_weighted_fer2013"].accuracy) == (0.645, 0.644)
    assert b["khanzada2020_vgg16"].citation.arxiv == "2004.11823"
    assert b["khanzada2020_vgg16"].citation.link == "https://arxiv.org/abs/2004.11823"


def test_ids_are_unique_and_match_the_loaded_registry() -> None:
    ids = baseline_ids()
    assert len(ids) == len(set(ids)) == len(load_baselines())
    assert {"human_fer2013", "khanzada2020_vgg16", "thesis_scaled_fer2013", "poster_v2_affectnet7"} <= set(ids)


def test_select_matches_dataset_and_classes() -> None:
    fer = select(load_baselines(), "fer2013", 7)
    assert "poster_v2_affectnet7" not in {b.id for b in fer}
    assert {b.id for b in select(load_baselines(), "affectnet", 7)} == {"poster_v2_affectnet7", "thesis_scaled_affectnet"}
    assert select(load_baselines(), "fer2013", 8) == []


def test_baseline_ids_is_cheap() -> None:
    code = "import sys; from ferbench.report.baselines import baseline_ids; assert baseline_ids(); heavy = [m for m in ('numpy', 'pandas', 'matplotlib', 'sklearn', 'jsonschema', 'tensorflow') if m in sys.modules]; print(heavy)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


GOOD = """\
ferbench_baselines: 1
baselines:
  - id: mylab_cnn_fer2013
    name: Our CNN
    kind: published
    dataset: fer2013
    split: PrivateTest
    num_classes: 7
    metrics: {accuracy: 0.691, f1_macro: 0.66}
    params: 1200000
    citation: {authors: A. Author, title: A paper, year: 2024, arxiv: "2401.00001"}
"""


def test_user_file_adds_baselines(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text(GOOD)
    b = {x.id: x for x in load_baselines([f])}["mylab_cnn_fer2013"]
    assert (b.accuracy, b.f1_macro, b.params, b.source) == (0.691, 0.66, 1200000, str(f))
    assert b.citation.short() == "Author 2024 (arXiv:2401.00001)"


@pytest.mark.parametrize(
    "edit, where, message",
    [
        (("accuracy: 0.691", "accuracy: 69.1"), (9, 25), "baselines[0].metrics.accuracy: must be <= 1, got 69.1"),
        (("    params: 1200000\n", "    parms: 1200000\n"), (10, 5), "baselines[0].parms: unknown key 'parms'; did you mean 'params'?"),
        (("dataset: fer2013", "dataset: fer213"), (6, 14), "baselines[0].dataset: must be one of 'fer2013', 'ferplus'"),
        (("id: mylab_cnn_fer2013", "id: human_fer2013"), (3, 9), f"duplicate baseline id 'human_fer2013' (already defined in the built-in registry, line {HUMAN_LINE})"),
        (("title: A paper, ", ""), (11, 15), "baselines[0].citation: missing required key 'title'"),
    ],
)
def test_invalid_user_file_gives_located_errors(tmp_path: Path, edit: tuple[str, str], where: tuple[int, int], message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(GOOD.replace(*edit))
    with pytest.raises(SpecError) as exc:
        load_baselines([f])
    text = str(exc.value)
    assert text.startswith(f"{f}:{where[0]}:{where[1]}: "), text
    assert message in text, text


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text(GOOD.replace("accuracy: 0.691", "accuracy: 1.5").replace("num_classes: 7", "num_classes: 1"))
    two.write_text("baselines:\n  - id: x\n    name: [unclosed\n")
    with pytest.raises(SpecError) as exc:
        load_baselines([one, two])
    lines = str(exc.value).splitlines()
    assert any(l.startswith(f"{one}:") and "num_classes" in l for l in lines)
    assert any(l.startswith(f"{one}:") and "accuracy" in l for l in lines)
    assert any(l.startswith(f"{two}:") and "invalid YAML" in l for l in lines)


def test_missing_file_is_located(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml:1:1: file not found"):
        load_baselines([tmp_path / "nope.yaml"])


def test_a_second_human_level_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "h.yaml"
    f.write_text(textwrap.dedent(GOOD).replace("kind: published", "kind: human"))
    with pytest.raises(SpecError, match="a second human-level entry for fer2013"):
        load_baselines([f])
