"""Checks of the evaluation protocol: recipe values that apply, folds, extra test sets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ferbench.data.kinds import KINDS
from ferbench.errors import Located
from ferbench.spec.checks.base import check, dataset_blocks, search_space
from ferbench.spec.compose import get_path
from ferbench.spec.recipes import OPTIMIZERS, SCHEDULES, optimizer_keys, recipe_of, schedule_keys
from ferbench.spec.types import (
    SEARCHABLE,
    fold_count,
    folds_by,
)
from ferbench.spec.yaml_loader import LocatedDoc


def _no_effect(data: dict[str, Any], doc: LocatedDoc, key: str, where: str) -> Iterator[Located]:
    """A value the optimizer or schedule does not use: an error when searched (wasted trials), a warning when fixed."""
    by_key = {v: k for k, v in SEARCHABLE.items()}
    name = by_key.get(key)
    if name is not None and name in search_space(data):
        yield doc.locate(("search", "space", name), f"{name} sets {key}, which {where} does not use: searching it wastes trials", key=True)
    elif tuple(key.split(".")) in doc.key_marks:
        yield doc.locate(tuple(key.split(".")), f"{where} does not use it; it has no effect", key=True, warning=True)


@check
def recipe_values_apply(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Each optimizer and schedule has its own values (the table, :mod:`ferbench.spec.recipes`): one it does not use is flagged."""
    opt = get_path(data, "train.optimizer", "adam") or "adam"
    row = OPTIMIZERS.get(opt)
    used = {v.key for v in row.values} if row is not None else set()
    for key in optimizer_keys():
        if key not in used:
            yield from _no_effect(data, doc, f"train.{key}", f"optimizer {opt}")
    schedule = get_path(data, "train.schedule")
    name = schedule.get("name", "constant") if isinstance(schedule, dict) else "constant"
    srow = SCHEDULES.get(name)
    used = {v.key for v in srow.values} if srow is not None else set()
    for key in schedule_keys():
        if key not in used:
            yield from _no_effect(data, doc, f"train.schedule.{key}", f"schedule {name}")
    warmup, epochs = get_path(data, "train.schedule.warmup_epochs"), get_path(data, "train.max_epochs")
    if isinstance(warmup, int) and isinstance(epochs, int) and warmup >= epochs:
        yield doc.locate(("train", "schedule", "warmup_epochs"),
                         f"{warmup} warm-up epochs leave none of the {epochs} epochs (train.max_epochs) at the full learning rate")


@check
def searched_recipes_on(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A searched recipe value needs its recipe on (its block in the spec, ``{}`` for the defaults)."""
    for name in search_space(data):
        row = recipe_of(name)
        if row is not None and not isinstance(get_path(data, row.block), dict):
            parent, _, leaf = row.block.rpartition(".")
            yield doc.locate(("search", "space", name), f"{name} searches {SEARCHABLE[name]}, but {row.name} is off: "
                                                        f"add {parent}: {{{leaf}: {{}}}} to turn it on", key=True)


@check
def teacher_exists(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """train.distill.teacher: a .keras file or a run folder holding best/model.keras (a warning when absent: it may be trained later)."""
    teacher = get_path(data, "train.distill.teacher")
    if not isinstance(teacher, str):
        return
    path = os.path.expanduser(teacher)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "best", "model.keras")):
            yield doc.locate(("train", "distill", "teacher"), f"{teacher} holds no best/model.keras (yet); the run needs a finished teacher run",
                             warning=True)
    elif not teacher.endswith(".keras"):
        yield doc.locate(("train", "distill", "teacher"), f"give a .keras file or a run folder (results/<spec>/<run id>); got {teacher!r}")
    elif not os.path.isfile(path):
        yield doc.locate(("train", "distill", "teacher"), f"{teacher} does not exist (yet); the run needs it", warning=True)


@check
def distill_takes_fixed_targets(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """train.distill mixes the teacher's predictions with each image's label once, so a label drawn anew each batch
    (dataset.labels_mode: probability) has nothing fixed to mix with."""
    if isinstance(get_path(data, "train.distill"), dict) and get_path(data, "dataset.labels_mode") == "probability":
        yield doc.locate(("dataset", "labels_mode"), "train.distill does not take dataset.labels_mode: probability (a label drawn "
                                                     "anew each batch); use majority, crossentropy or multi_target, or turn train.distill off")


@check
def swa_fits_the_training(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """train.swa averages the last epochs of one fit: not with train.freeze (two fits) nor train.ema (both put their
    average into the model for validation); more epochs than train.max_epochs average them all (a warning)."""
    swa = get_path(data, "train.swa")
    if not isinstance(swa, dict):
        return
    for other, why in (("freeze", "two fits, each with its own last epochs"), ("ema", "each puts its own average into the model")):
        if get_path(data, f"train.{other}"):
            yield doc.locate(("train", "swa"), f"train.swa does not go with train.{other} ({why}); keep one of them", key=True)
    epochs, most = swa.get("epochs"), get_path(data, "train.max_epochs")
    if isinstance(epochs, int) and isinstance(most, int) and epochs > most:
        yield doc.locate(("train", "swa", "epochs"), f"{epochs} epochs averaged of {most} (train.max_epochs): every epoch is averaged",
                         warning=True)


@check
def folds_consistent(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """k-fold: a fold needs folds and lies in 1..folds; the folds split train + validation, so test is a named split of its own."""
    for at, ds in dataset_blocks(data):
        folds, fold = fold_count(ds.get("folds")), ds.get("fold")
        if at != ("dataset",):
            for key in ("folds", "fold"):
                if ds.get(key) is not None:
                    yield doc.locate(at + (key,), "an extra test set is scored whole; folds apply to the spec's own dataset", key=True)
            continue
        if fold is not None and folds is None:
            yield doc.locate(at + ("fold",), "a fold needs dataset.folds (the number of folds)", key=True)
        elif fold is not None and folds is not None and fold > folds:
            yield doc.locate(at + ("fold",), f"fold {fold} does not exist: folds are 1..{folds}")
        if folds is None:
            continue
        if folds_by(ds.get("folds")) == "subject":
            kind = KINDS.get(str(ds.get("kind")))
            if kind is not None and not kind.subjects:
                takers = ", ".join(k.name for k in KINDS.values() if k.subjects)
                yield doc.locate(at + ("folds", "by"), f"{kind.name} names no subject per image; by: subject needs {takers} (or use by: sample)")
            continue  # subject folds pool every split: test is the fold itself
        splits = ds.get("splits") or {}
        test, validation = splits.get("test"), splits.get("validation")
        if isinstance(test, dict):
            yield doc.locate(at + ("splits", "test"), "with dataset.folds the folds split train + validation; give test a named split of its own")
        if isinstance(validation, dict) and validation.get("from") != "train":
            yield doc.locate(at + ("splits", "validation", "from"), "with dataset.folds, validation is named or carved from train")


@check
def cross_sets_fit(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Extra test sets have unique names, the model's input and classes that map onto the model's."""
    from ferbench.data.classmap import ClassMappingError, map_classes

    main = data.get("dataset") or {}
    seen: dict[str, int] = {}
    for i, entry in enumerate(get_path(data, "evaluate.on", []) or []):
        if not isinstance(entry, dict):
            continue
        at: tuple[str | int, ...] = ("evaluate", "on", i)
        name = entry.get("name")
        if name in seen:
            yield doc.locate(at + ("name",), f"{name!r} is already the name of evaluate.on[{seen[name]}]; names are unique")
        elif isinstance(name, str):
            seen[name] = i
        ds = entry.get("dataset")
        if not isinstance(ds, dict):
            continue
        for key in ("image_size", "color"):
            if key in ds and key in main and ds[key] != main[key]:
                yield doc.locate(at + ("dataset", key), f"the model takes {main[key]} (dataset.{key}); an extra test set is read "
                                                        f"at the model's input, so leave it out or write {main[key]}")
        try:
            map_classes(main.get("classes") or [], ds.get("classes") or [])
        except ClassMappingError as exc:
            yield doc.locate(at + ("dataset", "classes"), str(exc))
