"""What ``ferbench data describe`` shows: counts per split and class (as thesis
Tables 4.1 and 4.2), duplicates across splits, blank images, and the class weights
a run will use. No TensorFlow."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ferbench.data import near_duplicates
from ferbench.data.core import LoadedDataset
from ferbench.data.load import labels_file, load_dataset
from ferbench.data.weights import class_weights
from ferbench.spec.types import SPLITS, DatasetSpec, LossSpec


def describe(spec: DatasetSpec, loss: LossSpec, *, seed: int = 0, progress: bool = False, notes: Sequence[str] = ()) -> dict[str, Any]:
    """Load the dataset and summarise it as plain JSON-ready data.

    ``notes`` are the spec's notes about its dataset (e.g. which default splits it
    got); the report repeats them.
    """
    data = load_dataset(spec, seed=seed, progress=progress)
    report = summary(data, loss, notes)
    if spec.labels:
        from ferbench.data.ferplus import read_votes
        from ferbench.data.ferplus_schemes import rule_counts

        usage, named, votes, _ = read_votes(labels_file(spec))
        report["ferplus_schemes"] = rule_counts(usage, named, votes)
    return report


def summary(data: LoadedDataset, loss: LossSpec, notes: Sequence[str] = ()) -> dict[str, Any]:
    """The describe report of an already loaded dataset."""
    k = len(data.classes)
    splits = {}
    for key in SPLITS:
        s = data.splits[key]
        counts = s.counts(k)
        splits[key] = {
            "name": s.name,
            "total": int(counts.sum()),
            "counts": {c: int(n) for c, n in zip(data.classes, counts, strict=True)},
            "shape": list(s.x.shape[1:]),
        }
        if key in data.subjects:
            splits[key]["subjects"] = sorted(set(data.subjects[key].tolist()))
        if key in data.attributes:
            splits[key]["attributes"] = {
                a: dict(sorted(Counter(v.tolist()).items())) for a, v in data.attributes[key].items()
            }
    w = class_weights(data.splits["train"].y, k, loss)
    weights: dict[str, Any] = {"method": loss.class_weight}
    if loss.class_weight == "effective_number":
        weights["beta"] = loss.beta
    weights["weights"] = None if w is None else {c: round(float(v), 6) for c, v in zip(data.classes, w, strict=True)}
    return {
        "source": data.source,
        "fingerprint": data.fingerprint,
        "classes": list(data.classes),
        "splits": splits,
        "duplicates": dict(data.duplicates),
        "near_duplicates": near_duplicates.across_splits({k: data.splits[k].x for k in SPLITS}),
        "blank": dict(data.blank),
        "skipped": data.skipped,
        "excluded": dict(data.excluded),
        **({"faces": data.faces} if data.faces else {}),
        "class_weight": weights,
        "notes": list(notes),
        "warnings": list(data.warnings),
        **({"folds": list(data.folds)} if data.folds else {}),
    }


def render(report: dict[str, Any]) -> str:
    """The report as text: one row per class, one column per split, totals last."""
    classes, splits = report["classes"], report["splits"]
    lines = [f"source       {report['source']}", f"fingerprint  {report['fingerprint'][:16]}"]
    shape = splits["train"]["shape"]
    lines.append(f"images       {shape[0]}x{shape[1]}, {'grayscale' if shape[2] == 1 else 'rgb'}")
    lines += [f"note         {n}" for n in report.get("notes", ())]
    weights = report["class_weight"]["weights"]
    head = ["class"] + [f"{k} ({splits[k]['name']})" for k in SPLITS] + ["weight"]
    rows = [
        [c] + [str(splits[k]["counts"][c]) for k in SPLITS] + ["-" if weights is None else f"{weights[c]:.4f}"]
        for c in classes
    ]
    rows.append(["total"] + [str(splits[k]["total"]) for k in SPLITS] + [""])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(r: list[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))

    lines += ["", fmt(head), fmt(["-" * w for w in widths]), *map(fmt, rows), ""]
    method = report["class_weight"]["method"]
    if "beta" in report["class_weight"]:
        method += f" (beta {report['class_weight']['beta']})"
    lines.append(f"class weight {method}")
    dup = ", ".join(f"{k} {v}" for k, v in report["duplicates"].items())
    lines.append(f"duplicates   {dup}  (images of the second split also in the first)")
    near = ", ".join(f"{k} {v['pairs']} pair(s), {v['images']} image(s)" for k, v in report["near_duplicates"].items())
    lines.append(f"near-dups    {near}  (same picture re-encoded, resized, brightened or shifted; pairs in --json)")
    lines.append("blank        " + ", ".join(f"{k} {v}" for k, v in report["blank"].items()))
    lines.append(f"skipped      {report['skipped']}")
    if "subjects" in splits["train"]:
        lines.append("subjects     " + ", ".join(f"{k} {len(splits[k]['subjects'])}" for k in SPLITS))
    if report["excluded"]:
        lines.append("left out     " + ", ".join(f"{k}: {v}" for k, v in report["excluded"].items()))
    lines += _faces_lines(report.get("faces") or {})
    for mode, per_usage in report.get("ferplus_schemes", {}).items():
        kept = ", ".join(f"{u} {c['kept']} kept / {c['dropped']} dropped" for u, c in per_usage.items())
        lines.append(f"FER+ {mode:<13}{kept}")
    for f in report.get("folds", ()):
        lines.append(f"fold {f['fold']:<7}{f['size']} images, subjects {' '.join(f['subjects'])}")
    for w in report["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _faces_lines(faces: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    """The faces stage's counts: one row per source split and class."""
    if not faces:
        return []
    head = ["faces", "images", "one face", "no face", "several"]
    rows = [[f"{split}/{label}", *(str(c[k]) for k in ("images", "one", "none", "several"))]
            for split, labels in faces.items() for label, c in labels.items()]
    total = [sum(int(r[i]) for r in rows) for i in range(1, 5)]
    rows.append(["total", *map(str, total)])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def fmt(r: list[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))

    return ["", fmt(head), fmt(["-" * w for w in widths]), *map(fmt, rows)]
