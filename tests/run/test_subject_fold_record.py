"""A subject-independent fold run records its subjects in run.json's dataset block,
and a cleaned test split is named as cleaned there (no training needed to see it)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
from PIL import Image

from ferbench.spec.types import SPLITS

JAFFE = {"angry": "AN", "disgust": "DI", "fear": "FE", "happy": "HA", "neutral": "NE", "sad": "SA", "surprise": "SU"}
REPO = Path(__file__).resolve().parents[2]
PEOPLE = ("KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM")


def test_a_fold_run_records_its_subjects(tmp_path, monkeypatch):
    from ferbench.devices import visible_gpus
    from ferbench.plan import plan_spec
    from ferbench.run.session import RunSession
    from ferbench.spec import load_spec

    monkeypatch.setenv("FERBENCH_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(2)
    (tmp_path / "jaffe").mkdir()
    for subject in PEOPLE:
        for k, code in enumerate(JAFFE.values()):
            Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).save(tmp_path / "jaffe" / f"{subject}.{code}1.{k}.tiff")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"ferbench: 1\nname: jf\nseed: 5\ndataset:\n  kind: jaffe\n  path: {tmp_path / 'jaffe'}\n  image_size: 32\n"
        "  folds: {k: 5, by: subject}\n  fold: 3\nsearch: {trials: 1}\n"
    )
    monkeypatch.chdir(tmp_path)
    [planned] = plan_spec(load_spec(spec), gpus=visible_gpus()).runs
    info = RunSession(planned).dataset_info
    fold = dict(info.fold or {})
    assert fold["fold"] == 3 and fold["folds"] == 5 and fold["by"] == "subject"
    people = {k: set(fold["subjects"][k]) for k in SPLITS}
    assert set().union(*people.values()) == set(PEOPLE)
    assert not (people["train"] & people["test"]) and not (people["validation"] & people["test"]) and not (people["train"] & people["validation"])
    assert info.sizes["test"] == 7 * len(people["test"])  # every image of the test subjects, nothing else
    assert info.splits["test"] == "subjects[fold 3 of 5]"
    # The block as run.json holds it is valid against the run schema.
    schema = json.loads((REPO / "schemas" / "run.schema.json").read_text())
    jsonschema.validate(info.to_dict(), {"$defs": schema.get("$defs", {}), **schema["properties"]["dataset"]})


def test_a_cleaned_test_split_is_named_so_in_run_json(tmp_path, monkeypatch):
    from ferbench.devices import visible_gpus
    from ferbench.plan import plan_spec
    from ferbench.run.session import RunSession
    from ferbench.spec import load_spec

    monkeypatch.setenv("FERBENCH_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(3)
    (tmp_path / "jaffe").mkdir()
    originals = {}
    for subject in PEOPLE:
        for k, code in enumerate(JAFFE.values()):
            img = rng.integers(0, 256, (40, 40), dtype=np.uint8)
            originals[(subject, code)] = img
            Image.fromarray(img).save(tmp_path / "jaffe" / f"{subject}.{code}1.{k}.tiff")
    # The same picture under a second take: wherever the two land in different splits, one is leakage.
    Image.fromarray(originals[("KA", "HA")]).save(tmp_path / "jaffe" / "KA.HA2.99.tiff")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"ferbench: 1\nname: jc\nseed: 5\ndataset:\n  kind: jaffe\n  path: {tmp_path / 'jaffe'}\n  image_size: 32\n"
                    "  exclude_near_duplicates: test\nsearch: {trials: 1}\n")
    monkeypatch.chdir(tmp_path)
    [planned] = plan_spec(load_spec(spec), gpus=visible_gpus()).runs
    info = RunSession(planned).dataset_info
    assert info.splits["test"].endswith("near-duplicates left out]") and "[cleaned: " in info.splits["test"]
    n = int(info.splits["test"].split("[cleaned: ")[1].split()[0])
    assert info.sizes["test"] == 14 - n and n in (0, 1)  # 20% of 71 images, less the copy if it sits beside its twin
