"""AffectNet at scale, on a small generated layout: the AffectNet-shaped generator, the
parallel first load (corrupt files skipped and counted), the memory-mapped cache
(atomic) and the memory budget (mapped splits give the same batches as in memory)."""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ferbench.data import load_dataset
from ferbench.data.affectnet import COLUMNS
from ferbench.data.affectnet_synth import generate_release, main
from ferbench.spec.types import DerivedSplit

N, PER_CLASS = 96, 2  # 80 training rows, 16 validation rows (2 per code 0-7)
SIZE = 112  # 96 photos at 112x112 RGB: 3.6 MB, over half a 1 MiB budget
SEVEN = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated release for the module (two worker processes)."""
    root = tmp_path_factory.mktemp("affectnet") / "release"
    generate_release(root, N, seed=3, validation_per_class=PER_CLASS, workers=2)
    return root


def spec_for(make_spec, root: Path, **kw):
    kw.setdefault("splits", ("train", DerivedSplit("train", 0.2), "validation"))
    return make_spec(kind="affectnet", path=root, color="rgb", classes=SEVEN, image_size=SIZE, **kw)


def rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_generated_release_has_the_official_layout_and_is_reproducible(layout, tmp_path, make_spec, capsys):
    train, val = rows(layout / "training.csv"), rows(layout / "validation.csv")
    assert tuple(train[0]) == COLUMNS and tuple(val[0]) == COLUMNS
    assert len(train) - 1 + len(val) - 1 == N
    codes = [int(r[6]) for r in val[1:]]
    assert sorted(codes) == sorted(list(range(8)) * PER_CLASS)
    from PIL import Image

    for r in train[1:6]:
        with Image.open(layout / "Manually_Annotated_Images" / r[0]) as im:
            w, h = im.size
        assert im.format == "JPEG" and 240 <= min(w, h) and max(w, h) <= 640  # AffectNet's size range
        x, y, fw, fh = (int(v) for v in r[1:5])
        assert 0 <= x and 0 <= y and x + fw <= w and y + fh <= h and fw >= 0.35 * min(w, h) - 1
    # The same seed gives the same bytes with one worker, through the command line.
    assert main([str(tmp_path / "again"), str(N), "--seed", "3", "--workers", "1", "--validation-per-class", str(PER_CLASS)]) == 0
    assert "96 photos" in capsys.readouterr().out
    assert (tmp_path / "again" / "training.csv").read_bytes() == (layout / "training.csv").read_bytes()
    for r in train[1:4] + val[1:3]:
        rel = Path("Manually_Annotated_Images") / r[0]
        assert (tmp_path / "again" / rel).read_bytes() == (layout / rel).read_bytes()
    # ferbench reads it as the official release: codes 8-10 dropped, contempt left out, validation = test.
    data = load_dataset(spec_for(make_spec, layout), progress=False)
    assert data.source.startswith("AffectNet official release")
    assert len(data.splits["test"]) == 7 * PER_CLASS
    dropped = sum(v for k, v in data.excluded.items() if k.split()[0] in ("8", "9", "10"))
    contempt = sum(1 for r in train[1:] if r[6] == "7") + PER_CLASS
    assert len(data.splits["train"]) + len(data.splits["validation"]) == N - len(val[1:]) - dropped - (contempt - PER_CLASS)
    assert data.splits["train"].x.shape[1:] == (SIZE, SIZE, 3)


def test_corrupt_files_are_skipped_and_counted_by_the_process_pool(layout, tmp_path, make_spec, monkeypatch):
    root = tmp_path / "release"
    shutil.copytree(layout, root)
    train = rows(root / "training.csv")
    first = [r for r in train[1:] if int(r[6]) < 7]
    broken = root / "Manually_Annotated_Images" / first[0][0]
    broken.write_bytes(b"not a jpeg at all")
    cut = root / "Manually_Annotated_Images" / first[1][0]
    cut.write_bytes(cut.read_bytes()[:40])  # a truncated JPEG header
    from ferbench.data.affectnet import read_lists
    from ferbench.data.images import decode_many
    from ferbench.data.probe import affectnet_release

    rel = affectnet_release(root)
    assert rel is not None
    items = read_lists(rel).items
    x, digests, bad = decode_many(items, SIZE, "rgb", progress=False, workers=2, processes=True)
    assert len(bad) == 2 and len(x) == len(items) - 2
    assert {items[i].path for i, _ in bad} == {broken, cut}
    assert all(d for i, d in enumerate(digests) if i not in dict(bad))
    # Spawned workers (where TensorFlow is loaded, forking is unsafe) get the items pickled with each task.
    from ferbench.data import images

    monkeypatch.setattr(images, "pool_context", lambda: None)
    assert not images._FORKED  # the forked decode let go of its item list
    spawned = decode_many(items, SIZE, "rgb", progress=False, workers=2, processes=True)
    assert np.array_equal(spawned[0], x) and spawned[1] == digests and [i for i, _ in spawned[2]] == [i for i, _ in bad]
    with pytest.raises(Exception, match="2 bad sample"):
        load_dataset(spec_for(make_spec, root), progress=False)
    data = load_dataset(spec_for(make_spec, root, on_bad_sample="skip"), progress=False)
    assert data.skipped == 2
    assert any("skipped 2 bad sample" in w and broken.name in w for w in data.warnings)


def test_cache_is_memory_mapped_and_an_interrupted_first_load_is_never_used(layout, make_spec, cache_dir, monkeypatch):
    from ferbench.data import images

    spec = spec_for(make_spec, layout)
    real, calls = images.decode, []

    def dies(*a, **kw):
        calls.append(1)
        if len(calls) == 30:
            raise KeyboardInterrupt  # the user stops the first load
        return real(*a, **kw)

    monkeypatch.setattr(images, "decode", dies)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(spec, progress=False, memory_mb=1)  # over the budget: decoded into the cache folder
    monkeypatch.setattr(images, "decode", real)
    assert not [p.name for p in cache_dir.glob("*") if p.name != "index"]  # no entry, no spill file left

    import ferbench.data.cache as cache_mod

    def no_disk(*a, **kw):
        raise KeyboardInterrupt  # stopped while the entry is being written

    real_compute, spilled = images.decode_many, []

    def watched(*a, **kw):
        out = real_compute(*a, **kw)
        spilled.append(images.spilled(out[0]))
        return out

    monkeypatch.setattr("ferbench.data.affectnet.decode_many", watched)
    monkeypatch.setattr(cache_mod.np, "savez", no_disk)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(spec, progress=False, memory_mb=1)
    monkeypatch.undo()
    assert spilled and spilled[0] is not None and spilled[0].parent == cache_dir  # decoded into the cache folder
    assert not list(cache_dir.glob("raw-*")) and not list(cache_dir.glob(".*"))

    first = load_dataset(spec, progress=False)
    second = load_dataset(spec, progress=False)
    [entry] = cache_dir.glob("raw-*")
    assert isinstance(cache_mod.load_raw(cache_dir, entry.name[4:]).x, np.memmap)  # opened, not read
    assert second.fingerprint == first.fingerprint
    for k, s in first.splits.items():
        assert not isinstance(second.splits[k].x, np.memmap)  # within the budget: in memory
        np.testing.assert_array_equal(second.splits[k].x, s.x)


def test_mapped_splits_give_the_same_batches_as_in_memory(layout, make_spec):
    from ferbench.data.pipeline import make_eval_dataset, make_train_dataset
    from ferbench.spec.types import AugmentSpec

    spec = spec_for(make_spec, layout)
    held = load_dataset(spec, progress=False)
    mapped = load_dataset(spec, progress=False, memory_mb=1)  # 1 MiB: every split mapped
    assert held.fingerprint == mapped.fingerprint
    assert any("memory-mapped" in w for w in mapped.warnings)
    for k in ("train", "validation", "test"):
        assert isinstance(mapped.splits[k].x, np.memmap) and not isinstance(held.splits[k].x, np.memmap)
        np.testing.assert_array_equal(mapped.splits[k].x, held.splits[k].x)
    aug = AugmentSpec(True, "horizontal", 10, 0.1, 0.1, 0.1, 0.1)
    x_mem, x_map, y = held.splits["train"].x, mapped.splits["train"].x, held.splits["train"].y
    kw = dict(batch_size=16, augment=aug, seed=7, class_weight=np.linspace(0.5, 2, 7), jit=False, deterministic=True)
    for _epoch in range(2):  # a new order each epoch, the same for both
        a, b = list(make_train_dataset(x_mem, y, **kw)), list(make_train_dataset(x_map, y, **kw))
        assert len(a) == len(b) > 1
        for ba, bb in zip(a, b, strict=True):
            for ta, tb in zip(ba, bb, strict=True):
                np.testing.assert_array_equal(ta.numpy(), tb.numpy())
    # The train step's own gather (a trial on a CPU): from the held array, and read from the mapped file.
    from ferbench.data.pipeline import DeviceBatches

    idx, seed = np.array([5, 0, 17, 3, 5]), np.array([11, 12])
    in_step = [DeviceBatches(x, augment=aug, jit=False)(idx, seed).numpy() for x in (x_mem, x_map)]
    np.testing.assert_array_equal(in_step[0], in_step[1])
    x_test, y_test = mapped.splits["test"].x, mapped.splits["test"].y
    chunks = [xb.numpy() for xb, _ in make_eval_dataset(x_test, y_test, batch_size=5)]
    assert len(chunks) == -(-len(y_test) // 5)  # predicted in chunks
    np.testing.assert_array_equal(np.concatenate(chunks), np.asarray(held.splits["test"].x, np.float32) * np.float32(1 / 255))


def test_the_memory_budget_is_no_part_of_the_run_id():
    from ferbench.plan import spec_hash

    raw = {"ferbench": 1, "name": "x", "runtime": {"devices": "auto"}}
    assert spec_hash({**raw, "runtime": {"devices": "auto", "memory_mb": 512}}) == spec_hash(raw)
    assert spec_hash({**raw, "runtime": {"devices": "auto", "deterministic": True}}) != spec_hash(raw)


def test_large_faces_are_decoded_at_reduced_scale_and_keep_the_target_resolution(layout, make_spec, monkeypatch):
    """A JPEG face of at least twice the target is decoded by libjpeg-turbo at 1/2, 1/4 or 1/8 scale,
    never below the target's resolution, and gives nearly the pixels of a full-scale decode."""
    import simplejpeg
    from PIL import Image

    from ferbench.data import images, load
    from ferbench.data.affectnet import read_lists
    from ferbench.data.probe import affectnet_release

    items = read_lists(affectnet_release(layout)).items
    scales: list[float] = []
    real_decode = simplejpeg.decode_jpeg

    def spy(data, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = real_decode(data, *args, **kwargs)
        scales.append(simplejpeg.decode_jpeg_header(data)[1] / out.shape[1])
        return out

    monkeypatch.setattr(simplejpeg, "decode_jpeg", spy)
    size, drafted, diffs = 48, 0, []
    for it in items:
        scales.clear()
        got, _ = images.decode(it, size, "rgb")
        assert it.box is not None and len(scales) == 1  # every face box of these JPEGs is decoded by libjpeg-turbo
        x, y, w, h = it.box
        scale = scales[0]
        assert (scale > 1) == (min(w, h) >= 2 * size)  # reduced exactly when the face is twice the target
        assert min(w, h) / scale >= size  # and never below the target's resolution
        drafted += scale > 1
        with Image.open(it.path) as im:
            full = np.asarray(im.crop((x, y, x + w, y + h)).convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
        diffs.append(np.abs(got.astype(int) - full).mean())
    assert drafted > len(items) // 2
    assert np.mean(diffs) < 6 and max(diffs) < 16  # grey levels of 255: a resampling difference, not other pixels

    spec = spec_for(make_spec, layout)  # the rule is part of the cache key: changing it decodes again
    first = load_dataset(spec, progress=False)
    monkeypatch.setattr(load, "DRAFT_MARGIN", 2)
    assert load_dataset(spec, progress=False).fingerprint != first.fingerprint


def test_a_cached_load_parses_no_row_and_a_touched_photo_is_decoded_again(layout, make_spec, monkeypatch, tmp_path):
    import os

    from ferbench.data import affectnet

    root = tmp_path / "copy"
    shutil.copytree(layout, root)
    spec = spec_for(make_spec, root)
    first = load_dataset(spec, progress=False)
    parsed, decoded = [], []
    monkeypatch.setattr("ferbench.data.layout.read_lists", lambda rel: parsed.append(rel) or affectnet.read_lists(rel))
    real = affectnet.decode_many
    monkeypatch.setattr(affectnet, "decode_many", lambda *a, **kw: decoded.append(1) or real(*a, **kw))
    again = load_dataset(spec, progress=False)
    assert not parsed and not decoded and again.fingerprint == first.fingerprint  # the cache, no row parsed
    photo = next((root / "Manually_Annotated_Images").rglob("*.jpg"))
    st = photo.stat()
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: the same bytes, a new mtime
    touched = load_dataset(spec, progress=False)
    assert parsed and decoded and touched.fingerprint == first.fingerprint  # decoded again, the same content


def linear(seen: list[int]):
    """A fixed linear model on 4x4 block means, in numpy (no BLAS: each row's numbers do not depend on the
    rows beside it, so chunks and one pass agree to the bit); ``seen`` gets the images of every call."""
    weights = np.random.default_rng(0).normal(0.0, 0.05, (48, 7))

    def predict(x: np.ndarray) -> np.ndarray:
        seen.append(len(x))
        n, h, w, c = x.shape
        f = x.reshape(n, 4, h // 4, 4, w // 4, c).mean(axis=(2, 4)).reshape(n, -1)
        z = (f[:, :, None] * weights[None]).sum(axis=1)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return predict


def test_tta_and_corruptions_read_a_mapped_split_in_chunks_with_the_numbers_of_one_pass(layout, make_spec, monkeypatch):
    import tracemalloc

    from ferbench.data import memory
    from ferbench.data.corruptions import CORRUPTION_NAMES
    from ferbench.run.train.scoring import score_model
    from ferbench.run.train.setup import RunData
    from ferbench.spec.types import EvaluateSpec, RobustnessSpec

    spec = spec_for(make_spec, layout)
    held, mapped = load_dataset(spec, progress=False), load_dataset(spec, progress=False, memory_mb=1)

    def run_data(d, n=None):
        return RunData(classes=d.classes, x={k: s.x[:n] for k, s in d.splits.items()},
                       y={k: np.asarray(s.y[:n], np.int64) for k, s in d.splits.items()}, class_weight=None)

    x = mapped.splits["train"].x
    assert isinstance(x, np.memmap) and len(x) > 40  # the largest split, scored as the test split
    on = {"validation": "validation", "test": "train"}
    # Every corruption: per-image draws (rotation, patch), per-pixel noise, float-heavy blur, per-image JPEG.
    evaluate = EvaluateSpec(tta="ten_crop", robustness=RobustnessSpec(CORRUPTION_NAMES, (4,)))
    def traced(*args, **kw):  # the scores, and the most memory numpy and Python held at once while scoring
        tracemalloc.start()
        try:
            return score_model(*args, **kw), tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    score_model(linear([]), run_data(held, 4), evaluate, splits=on, seed=5)  # imports what scoring needs before it is traced
    # One pass over the split held in memory (a chunk larger than the split).
    one, one_peak = traced(linear([]), run_data(held), evaluate, splits=on, seed=5, batch_size=1024)
    monkeypatch.setattr(memory, "CHUNK_BYTES", 2 * x[0].nbytes * 4)  # two images (as float32) a chunk
    sizes: list[int] = []
    chunked, peak = traced(linear(sizes), run_data(mapped), evaluate, splits=on, seed=5, batch_size=2)
    assert max(sizes) == 2 and len(sizes) > 10 * len(x) // 2  # every view and corruption predicted two images at a time
    # Set by the chunk, not by the split: the one pass copies the split (as float32 too), the chunks only themselves.
    assert one_peak > 4 * x.nbytes and peak * 8 < one_peak, (peak, one_peak, x.nbytes)
    # The same numbers as the one pass, to the bit.
    assert chunked.test == one.test and chunked.tta == one.tta and chunked.robustness == one.robustness
    assert chunked.robustness is not None and len(set(chunked.robustness.accuracy.values())) > 1
    for k in ("test_y_prob", "validation_y_prob"):
        np.testing.assert_array_equal(getattr(chunked.predictions, k), getattr(one.predictions, k))
    np.testing.assert_array_equal(chunked.predictions.extra["test_y_prob_tta"], one.predictions.extra["test_y_prob_tta"])


def test_ferplus_relabelling_and_near_duplicate_exclusion_keep_a_mapped_source_mapped(tmp_path, make_spec, monkeypatch):
    import tracemalloc

    from data_helpers import small_fer, write_fer_csv

    from ferbench.data import memory
    from ferbench.data.classes import FERPLUS_COLUMNS

    rows_, imgs, _ = small_fer(np.random.default_rng(4), {"Training": 120, "PublicTest": 30, "PrivateTest": 30})
    planted = (1, 2, 3, 4, 6, 7)  # PrivateTest rows that are Training rows re-encoded a little brighter
    for k in planted:
        e, _, usage = rows_[150 + k]
        rows_[150 + k] = (e, " ".join(map(str, np.minimum(imgs[k].astype(int) + 6, 255).ravel())), usage)
    write_fer_csv(tmp_path / "fer2013.csv", rows_)
    votes = ["Usage,Image name," + ",".join(FERPLUS_COLUMNS)]
    for i, (_, _, usage) in enumerate(rows_):  # happiness, sadness, neutral in turn; every fifth face without a majority
        v = [0] * 10
        if i % 5 == 0:
            v[1] = v[3] = 5
        else:
            v[(1, 3, 0)[i % 3]] = 10
        votes.append(f"{usage},fer{i:07d}.png," + ",".join(map(str, v)))
    (tmp_path / "fer2013new.csv").write_text("\n".join(votes) + "\n")
    spec = make_spec(kind="fer2013", path=tmp_path, labels="fer2013new.csv", classes=("happy", "sad", "neutral"), image_size=96,
                     splits=("Training", "PublicTest", "PrivateTest"), exclude_near_duplicates="test")
    held = load_dataset(spec, progress=False)  # the first load decodes into memory and fills the cache
    monkeypatch.setattr(memory, "CHUNK_BYTES", 2 * 96 * 96 * 4)  # two images (as float32) a chunk
    tracemalloc.start()
    try:
        mapped = load_dataset(spec, progress=False, memory_mb=1)  # the cache's source, memory-mapped, over the budget
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    source = len(rows_) * 96 * 96
    assert peak < source // 2, (peak, source)  # neither the source nor a split was copied into memory
    assert any("memory-mapped" in w for w in mapped.warnings)
    assert mapped.fingerprint == held.fingerprint and "relabelled by FER+" in mapped.source
    assert "cleaned: 6 near-duplicates" in mapped.splits["test"].name == held.splits["test"].name
    for k, s in held.splits.items():
        assert isinstance(mapped.splits[k].x, np.memmap) and not isinstance(s.x, np.memmap)
        np.testing.assert_array_equal(mapped.splits[k].x, s.x)
        np.testing.assert_array_equal(mapped.splits[k].y, s.y)
    assert mapped.blank == held.blank and mapped.duplicates == held.duplicates


#: A first load in its own process, each photo decoded slowly (patched here, in the child only) so it can be killed mid-decode.
SLOW_LOAD = """
import pickle, sys, time
from ferbench.data import images, load_dataset
real = images.decode
def slow(*a, **kw):
    time.sleep(0.05)
    return real(*a, **kw)
images.decode = slow
load_dataset(pickle.loads(open(sys.argv[1], "rb").read()), progress=False, memory_mb=1)
"""


def test_a_killed_first_load_leaves_files_the_next_load_removes_but_a_live_writers_files_are_kept(layout, make_spec, cache_dir, tmp_path,
                                                                                                 monkeypatch):
    import os
    import pickle
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    from ferbench.data.unfinished import clean_stale, writer_prefix

    spec = spec_for(make_spec, layout)
    (tmp_path / "spec.pkl").write_bytes(pickle.dumps(spec))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", SLOW_LOAD, str(tmp_path / "spec.pkl")], env=env)
    try:
        deadline = time.monotonic() + 60
        while not list(cache_dir.glob(".spill-*")) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        [spill] = cache_dir.glob(".spill-*")  # decoding straight into the cache folder (over the budget)
        assert spill.name.startswith(f".spill-p{child.pid}h")
        assert clean_stale(cache_dir) == (0, 0) and spill.exists()  # its writer is alive: kept
        assert child.poll() is None  # still decoding when killed
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    size = spill.stat().st_size
    assert size > 96 * SIZE * SIZE * 3 // 2  # the killed load's spill file is still there, and large
    # A file named after this process but older than it: an earlier process had the same id; it is gone.
    reused = cache_dir / f"{writer_prefix('split')}x.npy"
    reused.write_bytes(b"0" * 1000)
    os.utime(reused, (time.time() - 10 * 86400, time.time() - 10 * 86400))
    other_host = cache_dir / f".spill-p{os.getpid()}h{'0' * 8}-x.npy"  # another machine's (a shared folder): not ours to judge
    other_host.write_bytes(b"0")
    temp = tmp_path / "tmp"  # a process pool's spill file of a source that fits in memory goes to the temporary folder
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    pooled = temp / spill.name.replace(spill.name.split("-", 2)[2], "pool.npy")
    pooled.write_bytes(b"0" * 500)
    second = load_dataset(spec, progress=False)
    [note] = [w for w in second.warnings if "unfinished" in w]
    assert note.startswith("removed 3 unfinished file(s)") and f"({(size + 1500) / 2**20:,.1f} MiB freed)" in note
    assert f"in the data cache {cache_dir} and {temp} (their process is gone)" in note
    assert not spill.exists() and not reused.exists() and not pooled.exists() and other_host.exists()
    assert list(cache_dir.glob("raw-*")) and not [p for p in cache_dir.glob(".*") if p != other_host]
    assert not any("unfinished" in w for w in load_dataset(spec, progress=False).warnings)  # said once
    fresh = load_dataset(replace(spec, cache=str(tmp_path / "fresh")), progress=False)
    assert second.fingerprint == fresh.fingerprint
    for k, s in fresh.splits.items():
        np.testing.assert_array_equal(second.splits[k].x, s.x)
