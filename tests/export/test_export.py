"""``ferbench export``: SavedModel, TFLite and ONNX files beside the trial, re-evaluated on the test split and timed.

One tiny run (two trials) is exported in every format. The records must validate and
hold what the files do: the test accuracy the test recomputes by running each file
itself, a float32 TFLite model that answers like the Keras model, int8 calibrated on
training images. A second export of the same format, an unknown format and a trial
whose model was not kept are refused in one line before any work.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("optuna")

from runspecs import write_spec  # noqa: E402

from ferbench.cli.main import main  # noqa: E402
from ferbench.results.exports import EXPORT_FORMATS, export_problems  # noqa: E402
from ferbench.results.metrics import metrics_block  # noqa: E402
from ferbench.run.progress import PlainReporter  # noqa: E402
from ferbench.run.runner import run_spec  # noqa: E402
from ferbench.run.session import RunSession  # noqa: E402

pytestmark = pytest.mark.slow


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("export")
    spec = write_spec(root, name="exp", trials=2, epochs=1)
    text = spec.read_text().replace("runtime: {devices: cpu}", "evaluate: {tta: flip}\nruntime: {devices: cpu}")
    spec.write_text(text.replace("augment: {enabled: true}", "augment: {enabled: true}\n"))
    [result] = run_spec(spec, reporter=PlainReporter(io.StringIO()))
    assert result.status == "complete"
    args = [a for f in EXPORT_FORMATS for a in ("--format", f)]
    rc, out, err = _cli("export", str(result.folder), *args)
    assert rc == 0, err
    return result, out


def _record(result, fmt: str) -> dict:
    return json.loads((result.folder / "trials" / f"{result.info.best_trial:04d}" / "exports" / fmt / "export.json").read_text())


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_each_format_is_written_beside_the_trial_with_a_valid_record(exported, fmt: str) -> None:
    result, out = exported
    rec = _record(result, fmt)
    assert export_problems(rec) == []
    assert rec["run_id"] == result.run_id and rec["trial"] == result.info.best_trial and rec["format"] == fmt
    folder = result.folder / "trials" / f"{rec['trial']:04d}" / "exports" / fmt
    for f in rec["files"]:
        data = (folder / f["path"]).read_bytes()
        assert len(data) == f["bytes"] and hashlib.sha256(data).hexdigest() == f["sha256"]
    assert rec["size_bytes"] == sum(f["bytes"] for f in rec["files"])
    assert rec["source"]["model"] == "best/model.keras"
    assert rec["source"]["sha256"] == hashlib.sha256((result.folder / "best" / "model.keras").read_bytes()).hexdigest()
    keras_rec = json.loads((result.folder / "trials" / f"{rec['trial']:04d}" / "record.json").read_text())
    assert rec["metrics"]["keras_test_accuracy"] == keras_rec["metrics"]["test"]["accuracy"]
    assert rec["metrics"]["tta"]["method"] == "flip"  # the spec's test-time augmentation, on the exported model too
    lat = rec["latency"]
    assert lat["device"] == "cpu" and [b["batch_size"] for b in lat["batches"]] == [1, 512]
    runtimes = {"savedmodel": ("tensorflow",), "onnx": ("onnxruntime",)}
    assert lat["runtime"].startswith(runtimes.get(fmt, ("tflite", "litert")))
    assert rec["parity"]["max_abs_prob_diff"] <= rec["parity"]["tolerance"] and rec["parity"]["images"] == 28
    assert fmt in out


def test_quantisation_is_recorded_and_int8_is_calibrated_on_training_images(exported) -> None:
    result, _ = exported
    assert all(_record(result, f)["quantization"] is None for f in ("tflite", "savedmodel", "onnx"))
    assert _record(result, "tflite-float16")["quantization"] == {"weights": "float16", "activations": "float32"}
    assert _record(result, "tflite-int8")["quantization"] == {
        "weights": "int8", "activations": "int8", "calibration": {"split": "train", "images": 56, "seed": 0}}
    sizes = {f: _record(result, f)["size_bytes"] for f in ("tflite", "tflite-float16", "tflite-int8")}
    assert sizes["tflite-int8"] < sizes["tflite-float16"] < sizes["tflite"]


def _data(result):
    return RunSession.from_folder(result.folder).load_data()


@pytest.mark.parametrize("fmt", ["tflite", "tflite-int8"])
def test_the_recorded_test_accuracy_is_what_the_file_itself_gives(exported, fmt: str) -> None:
    import tensorflow as tf

    result, _ = exported
    rec = _record(result, fmt)
    data = _data(result)
    it = tf.lite.Interpreter(model_path=str(result.folder / "trials" / f"{rec['trial']:04d}" / "exports" / fmt / "model.tflite"))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    probs = []
    for x in data.x["test"].astype(np.float32):
        it.set_tensor(inp["index"], x[None])
        it.invoke()
        probs.append(it.get_tensor(out["index"])[0])
    expected = metrics_block(data.y["test"], np.array(probs), data.classes)
    assert rec["metrics"]["test"]["accuracy"] == pytest.approx(expected["accuracy"])
    assert rec["metrics"]["test"]["confusion"] == expected["confusion"]


def test_float32_tflite_answers_like_the_keras_model(exported) -> None:
    import keras

    from ferbench.export.tflite import tflite_predict

    result, _ = exported
    data = _data(result)
    rec = _record(result, "tflite")
    blob = (result.folder / "trials" / f"{rec['trial']:04d}" / "exports" / "tflite" / "model.tflite").read_bytes()
    model = keras.models.load_model(result.folder / "best" / "model.keras", compile=False)
    x = data.x["test"].astype(np.float32)
    np.testing.assert_allclose(tflite_predict(blob, threads=1)(data.x["test"]), model.predict(x, verbose=0), atol=1e-4)


def test_a_second_export_of_a_format_is_refused_and_changes_nothing(exported) -> None:
    result, _ = exported
    before = {p: p.read_bytes() for p in (result.folder / "trials").rglob("*") if p.is_file()}
    rc, _, err = _cli("export", str(result.folder), "--format", "tflite-int8")
    assert rc == 2 and err.count("\n") == 1 and "exported as tflite-int8 already (records are never rewritten)" in err
    assert {p: p.read_bytes() for p in (result.folder / "trials").rglob("*") if p.is_file()} == before


def test_unknown_formats_and_models_not_kept_are_refused_in_one_line(exported) -> None:
    result, _ = exported
    rc, _, err = _cli("export", str(result.folder), "--format", "coreml")
    assert rc == 2 and "--format must be one of savedmodel, tflite, tflite-float16, tflite-int8, onnx; got coreml" in err
    other = next(n for n in (0, 1) if n != result.info.best_trial)
    rc, _, err = _cli("export", str(result.folder), "--trial", str(other), "--format", "tflite")
    assert rc == 2 and err.count("\n") == 1 and f"trial {other}'s model was not kept" in err
    rc, _, err = _cli("export", str(result.folder), "--trial", "7", "--format", "tflite")
    assert rc == 2 and "no trial 7" in err
    assert not (result.folder / "trials" / f"{other:04d}" / "exports").exists()


def _folder(result, fmt: str):
    return result.folder / "trials" / f"{result.info.best_trial:04d}" / "exports" / fmt


def test_onnx_answers_like_keras_within_1e4_and_is_rescored_and_timed(exported) -> None:
    import keras
    import onnx
    import onnxruntime as ort

    result, _ = exported
    rec, data = _record(result, "onnx"), _data(result)
    path = _folder(result, "onnx") / "model.onnx"
    assert [f["path"] for f in rec["files"]] == ["model.onnx"]
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    opset = next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx"))
    assert rec["converter"]["name"] == "tf2onnx" and rec["converter"]["opset"] == opset
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = data.x["test"].astype(np.float32)
    probs = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    model = keras.models.load_model(result.folder / "best" / "model.keras", compile=False)
    keras_probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(probs, keras_probs, atol=1e-4)
    assert rec["parity"]["max_abs_prob_diff"] == pytest.approx(float(np.abs(probs - keras_probs).max()), abs=2e-6)
    assert rec["parity"]["max_abs_prob_diff"] < 1e-4 and rec["parity"]["within_tolerance"]
    expected = metrics_block(data.y["test"], probs, data.classes)
    assert rec["metrics"]["test"]["accuracy"] == pytest.approx(expected["accuracy"])
    assert rec["metrics"]["test"]["confusion"] == expected["confusion"]
    batches = {b["batch_size"]: b for b in rec["latency"]["batches"]}
    assert set(batches) == {1, 512} and all(b["median_ms"] > 0 and b["repeats"] >= 5 for b in batches.values())


@pytest.mark.parametrize("fmt", ["onnx", "tflite-int8"])
def test_every_export_has_a_model_card_that_validates_and_names_every_metric_of_the_record(exported, fmt: str) -> None:
    from ferbench.export.card import card_problems, metric_names

    result, _ = exported
    folder = _folder(result, fmt)
    card = json.loads((folder / "model_card.json").read_text())
    assert card_problems(card) == []
    keras_rec = json.loads((result.folder / "trials" / f"{result.info.best_trial:04d}" / "record.json").read_text())
    blocks = {"validation": keras_rec["metrics"]["validation"], "test": keras_rec["metrics"]["test"],
              "tta/flip/validation": keras_rec["metrics"]["tta"]["validation"], "tta/flip/test": keras_rec["metrics"]["tta"]["test"]}
    names = metric_names(card)
    assert set(names) == set(blocks)
    text = (folder / "MODEL_CARD.md").read_text()
    for name, block in blocks.items():
        assert names[name] == set(block) - {"n"}, name
        for key, value in block.items():
            if isinstance(value, float):
                assert card["metrics"][name]["values"][key]["value"] == value
                assert re.search(rf"\|\s*{key}\s*\|\s*{value:.4f}\s*\|", text), (name, key)
        lo, hi = card["metrics"][name]["values"]["accuracy"]["ci95"]
        assert lo < block["accuracy"] < hi
        assert card["metrics"][name]["per_class"].keys() == block["per_class"].keys()
    assert card["model"]["format"] == fmt and card["export"]["parity"] == _record(result, fmt)["parity"]
    assert card["limits"]["classes"] == list(keras_rec["metrics"]["test"]["per_class"])
    assert f"--format {fmt}" in text and "## Known limits" in text and "## Reproduce" in text
    bad = dict(card, metrics={})
    assert card_problems(bad) != []


def test_the_format_table_the_records_formats_and_the_schema_agree() -> None:
    from ferbench.export.formats import FORMAT_TABLE
    from ferbench.spec.schema import schema_path

    enum = json.loads(schema_path("export.schema.json").read_text())["properties"]["format"]["enum"]
    assert tuple(FORMAT_TABLE) == EXPORT_FORMATS == tuple(enum)
    frontier = json.loads(schema_path("frontier.schema.json").read_text())["$defs"]
    assert set(EXPORT_FORMATS) <= set(frontier["row"]["properties"]["variant"]["enum"])  # the report takes every format
    assert list(EXPORT_FORMATS) == frontier["paretoTrial"]["properties"]["exports"]["items"]["enum"]
    assert all(0 < f.tolerance < 1 for f in FORMAT_TABLE.values()) and FORMAT_TABLE["onnx"].tolerance <= 1e-4
