"""AffectNet at scale: first load, cached load and peak memory, side by side in one run.

    python benchmarks/perf/data_scale.py [--photos N | --root FOLDER] [--sizes 48,112,224]
                                         [--budget-mb MB] [--train-size PX] [--train-images N]

On a generated AffectNet layout (``ferbench.data.affectnet_synth``; ``--root`` reuses
one), every listed photo read once first (so that all methods find them in the page
cache), for each image size, each measured in its own process so that its peak
resident memory (``VmHWM``) is its own:
  1. a plain per-image PIL loop (open, crop to the face box, convert, resize) into a
     preallocated array, against ferbench's first load (parallel decode, draft mode,
     hashes, cache write);                                                    target >= 3x
  2. ferbench's cached load (the memory-mapped cache);                         target < 1 s
  3. keras.utils.image_dataset_from_directory over the same photos: its layout has
     no face boxes, so it decodes and resizes whole photos (a reference, not the task);
  4. the peak memory of each, against the budget (``--budget-mb``, runtime.memory_mb).
Then one epoch of training (scaled-down EfficientNetV2-S, width/depth 0.25) at
``--train-size`` on the first ``--train-images`` training images, read from the
memory-mapped split (over the budget) and from a copy of them in memory, in images/s,
with each process's peak memory against the budget;                           target >= 0.8x
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

#: Whether the last load's splits came back memory-mapped (over the budget) or held in memory.
MAPPED: list[bool] = []
SEVEN = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
BATCH = 64


def spec(root: Path, size: int, cache: str):  # type: ignore[no-untyped-def]
    from ferbench.spec.types import DatasetSpec, DerivedSplit, Splits, SyntheticSpec

    return DatasetSpec(
        kind="affectnet", path=str(root), layout="auto", labels=None, image_size=size, color="rgb", classes=SEVEN,
        class_map={}, splits=Splits("train", DerivedSplit("train", 0.1), "validation"), on_bad_sample="skip", cache=cache,
        synthetic=SyntheticSpec(2000, 400, 400, "fer2013", 0.08),
    )


def plain(root: Path, size: int) -> int:
    """The loop users write: every listed face, one at a time."""
    from PIL import Image

    from ferbench.data.affectnet import read_lists
    from ferbench.data.probe import affectnet_release

    rel = affectnet_release(root)
    assert rel is not None
    items = read_lists(rel).items
    out = np.empty((len(items), size, size, 3), np.uint8)
    for i, it in enumerate(items):
        assert it.box is not None
        x, y, w, h = it.box
        with Image.open(it.path) as im:
            out[i] = np.asarray(im.crop((x, y, x + w, y + h)).convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
    return len(items)


def keras_dir(root: Path, size: int) -> int:
    import keras

    ds = keras.utils.image_dataset_from_directory(root / "Manually_Annotated_Images", labels=None, image_size=(size, size),
                                                  batch_size=256, shuffle=False, verbose=False)
    return sum(int(b.shape[0]) for b in ds)


def load(root: Path, size: int, cache: str, budget: int) -> int:
    from ferbench.data import load_dataset

    data = load_dataset(spec(root, size, cache), progress=False, memory_mb=budget)
    MAPPED.append(all(isinstance(s.x, np.memmap) for s in data.splits.values()))
    return sum(len(s) for s in data.splits.values())


def train_epoch(root: Path, size: int, cache: str, budget: int, images: int, mapped: bool) -> int:
    """One epoch as a trial trains on a CPU: in memory, the step gathers from the held array;
    mapped, the input pipeline reads the batches from the cache file."""
    import keras

    from ferbench.data import load_dataset
    from ferbench.data.pipeline import DeviceBatches, make_index_dataset, make_train_dataset
    from ferbench.model.efficientnetv2.build import build_model
    from ferbench.run.train.inputs import augment_in_step
    from ferbench.spec.types import AugmentSpec

    data = load_dataset(spec(root, size, cache), progress=False, memory_mb=budget)
    x, y = data.splits["train"].x[:images], data.splits["train"].y[:images]
    if not mapped:  # the same images, held: copied out of the cache (the whole split may not fit in memory)
        x = np.array(x)
    elif not isinstance(x, np.memmap):
        sys.exit(f"the training split at {size}px fits the {budget:,} MB budget: it is not memory-mapped; lower --budget-mb")
    model = build_model(input_shape=(size, size, 3), num_classes=7, stages=(0, 1, 2, 3, 4), width=0.25, depth=0.25,
                        top_filters=1280, dropout=0.2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", jit_compile=False)
    aug = AugmentSpec(True, "horizontal", 10, 0.1, 0.1, 0.1, 0.1)
    kw = dict(batch_size=BATCH, seed=0, shuffle=True, drop_remainder=True)
    if isinstance(x, np.memmap):
        ds = make_train_dataset(x, y, augment=aug, value_range=(0.0, 255.0), **kw)
    else:
        augment_in_step(model, DeviceBatches(np.ascontiguousarray(x), augment=aug, value_range=(0.0, 255.0)))
        ds = make_index_dataset(y, **kw)
    model.fit(ds.take(3), epochs=1, verbose=0)  # warm up: tracing, compilation
    t = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0)
    os.environ["_FB_EPOCH_SECONDS"] = str(time.perf_counter() - t)
    return (len(y) // BATCH) * BATCH


def child(args: argparse.Namespace) -> None:
    import PIL.Image  # noqa: F401 - imports are not what is measured

    import ferbench.data.affectnet
    import ferbench.data.load  # noqa: F401
    from ferbench.data.memory import peak_rss_mb

    if args.child == "keras":
        import keras  # noqa: F401
    root, size = Path(args.root), args.size
    t = time.perf_counter()
    if args.child == "plain":
        n = plain(root, size)
    elif args.child == "keras":
        n = keras_dir(root, size)
    elif args.child in ("first", "cached"):
        n = load(root, size, args.cache, args.budget_mb)
    else:
        n = train_epoch(root, size, args.cache, args.budget_mb, args.train_images, args.child == "train-mapped")
    seconds = float(os.environ.pop("_FB_EPOCH_SECONDS", time.perf_counter() - t))
    print(json.dumps({"seconds": seconds, "images": n, "peak_mb": peak_rss_mb(), "mapped": bool(MAPPED and MAPPED[-1])}))


def run_child(args: argparse.Namespace, what: str, size: int, cache: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", what, "--root", str(args.root), "--size", str(size), "--cache", cache,
           "--budget-mb", str(args.budget_mb), "--train-images", str(args.train_images)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"{what} at {size}px failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=3000, help="photos to generate (without --root)")
    p.add_argument("--root", type=Path, default=None, help="an AffectNet layout to use instead of generating one")
    p.add_argument("--sizes", default="48,112,224")
    p.add_argument("--budget-mb", type=int, default=2048, help="runtime.memory_mb for ferbench's loads")
    p.add_argument("--train-size", type=int, default=112)
    p.add_argument("--train-images", type=int, default=2048)
    p.add_argument("--keras", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=48, help=argparse.SUPPRESS)
    p.add_argument("--cache", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="ferbench-scale-") as tmp:
        if args.root is None:
            from ferbench.data.affectnet_synth import generate_release

            g = generate_release(Path(tmp) / "affectnet", args.photos, seed=0)
            args.root = g.root
            print(f"generated {args.photos:,} photos in {g.seconds:.0f} s")
        report(args, tmp)


def warm(root: Path) -> float:
    """Read every listed photo once, so that no method is timed reading from the disk while another
    finds the files in the page cache (the first method measured would otherwise pay for both)."""
    from ferbench.data.affectnet import listed_paths
    from ferbench.data.probe import affectnet_release

    rel = affectnet_release(root)
    assert rel is not None
    t = time.perf_counter()
    for path in listed_paths(rel):
        with open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    return time.perf_counter() - t


def report(args: argparse.Namespace, tmp: str) -> None:
    print(f"read every listed photo once beforehand, {warm(Path(args.root)):.0f} s: every method finds them in the page cache")
    rows, missed = [], []
    for size in (int(s) for s in args.sizes.split(",")):
        cache = str(Path(tmp) / f"cache-{size}")
        r = {k: run_child(args, k, size, cache) for k in ("plain", "first", "cached", *(("keras",) if args.keras else ()))}
        speedup = r["plain"]["seconds"] / r["first"]["seconds"]
        gb = r["first"]["images"] * size * size * 3 / 1e9
        missed += [f"first load {speedup:.2f}x at {size}px (target >= 3x)"] * (speedup < 3)
        missed += [f"cached load {r['cached']['seconds']:.2f} s at {size}px (target < 1 s)"] * (r["cached"]["seconds"] >= 1)
        rows.append((f"{size}px", f"{r['plain']['images']:,}", f"{gb:.2f} GB", f"{r['plain']['seconds']:.1f} s / {r['plain']['peak_mb']:,.0f} MB",
                     f"{r['first']['seconds']:.1f} s / {r['first']['peak_mb']:,.0f} MB", f"{speedup:.2f}x",
                     f"{r['cached']['seconds']:.2f} s / {r['cached']['peak_mb']:,.0f} MB ({'mapped' if r['cached']['mapped'] else 'to memory'})",
                     f"{r['keras']['seconds']:.1f} s / {r['keras']['peak_mb']:,.0f} MB" if "keras" in r else "-"))
    head = ("size", "faces", "pixels", "plain PIL loop", "ferbench first load", "speed-up", "ferbench cached load", "keras from directory")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(f"{os.cpu_count()} CPU cores; budget {args.budget_mb:,} MB; times / peak resident memory of each process")
    for r in [head, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    cache = str(Path(tmp) / f"cache-{args.train_size}")
    mem, mapped = (run_child(args, k, args.train_size, cache) for k in ("train-memory", "train-mapped"))
    rate_mem, rate_map = mem["images"] / mem["seconds"], mapped["images"] / mapped["seconds"]
    missed += [f"mapped epoch {rate_map / rate_mem:.2f}x (target >= 0.8x)"] * (rate_map < 0.8 * rate_mem)
    print(f"one epoch, {mem['images']:,} images at {args.train_size}px: in memory {rate_mem:,.0f} img/s (peak {mem['peak_mb']:,.0f} MB), "
          f"memory-mapped {rate_map:,.0f} img/s (peak {mapped['peak_mb']:,.0f} MB): {rate_map / rate_mem:.2f}x")
    print("all targets met" if not missed else "TARGET MISSED: " + "; ".join(missed))


if __name__ == "__main__":
    main()
