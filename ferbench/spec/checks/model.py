"""Checks of the model section: architectures, stages, the family's hyperparameters, custom builders, initial weights, freezing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ferbench.errors import Located
from ferbench.model.family import MODEL_HYPERPARAMETERS, Family
from ferbench.model.registry import CUSTOM, FAMILIES
from ferbench.spec.checks.base import check, search_space
from ferbench.spec.compose import get_path
from ferbench.spec.schema import suggest
from ferbench.spec.yaml_loader import LocatedDoc


def _archs(data: dict[str, Any]) -> tuple[list[str], tuple[str, ...]]:
    """The architectures a spec (or one matrix cell) can build, and where to point at them."""
    searched = search_space(data).get("arch")
    if isinstance(searched, dict):
        return [str(c) for c in searched.get("choices") or []], ("search", "space", "arch")
    arch = get_path(data, "model.arch")
    return ([str(arch)] if arch is not None else []), ("model", "arch")


def _families(data: dict[str, Any]) -> list[Family]:
    return [FAMILIES[a] for a in _archs(data)[0] if a in FAMILIES]


@check
def arch_choices(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A searched architecture is a list of choices of known architectures."""
    p = search_space(data).get("arch")
    if not isinstance(p, dict):
        return
    if "choices" not in p:
        yield doc.locate(("search", "space", "arch"), "arch is searched as choices: [...] of architectures (see `ferbench model list`)")
        return
    known = (*FAMILIES, CUSTOM)
    for i, c in enumerate(p["choices"]):
        if c not in known:
            yield doc.locate(("search", "space", "arch", "choices", i), f"unknown architecture {c!r}{suggest(str(c), list(known))}; known: {', '.join(known)}")


@check
def stages_prefix(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Kept stages are a prefix 0..k of the family's stages (every family truncates the same way)."""
    stages = get_path(data, "model.stages")
    if not isinstance(stages, list):
        return
    archs, _ = _archs(data)
    if CUSTOM in archs:
        yield doc.locate(("model", "stages"), "a custom builder has no stages to keep; remove model.stages")
        return
    fams = _families(data)
    n = min((len(f.stages) for f in fams), default=0)
    upto = f"0..{n - 1}" if n else "the family's stages"
    if stages != list(range(len(stages))):
        want = list(range(max(len(stages), 1)))
        yield doc.locate(("model", "stages"), f"kept stages must be a prefix of {upto} starting at 0 in order, e.g. {want}; got {stages}")
        return
    for fam in fams:
        if len(stages) > len(fam.stages):
            yield doc.locate(("model", "stages"), f"{fam.name} has stages 0..{len(fam.stages) - 1} (and its head); got {stages}")


@check
def family_hyperparameters(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """A model hyperparameter, fixed or searched, belongs to the architecture (to one of the searched ones)."""
    archs, _ = _archs(data)
    fams = _families(data)
    if not fams or CUSTOM in archs:
        return  # a custom builder takes what the spec gives it
    space = search_space(data)
    for name in MODEL_HYPERPARAMETERS:
        if any(name in f.takes for f in fams):
            continue
        if len(fams) == 1:
            why = fams[0].lacks(name)
        else:
            why = f"model.{name}: none of {', '.join(f.name for f in fams)} has {name}"
        if name in space:
            yield doc.locate(("search", "space", name), why.split(": ", 1)[1] + "; remove it from search.space", key=True)
        elif get_path(data, f"model.{name}") is not None:
            yield doc.locate(("model", name), why.split(": ", 1)[1] + f"; remove model.{name}")


@check
def custom_builder(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """arch custom needs model.builder; model.builder and model.params belong to arch custom."""
    archs, where = _archs(data)
    if not archs:
        return
    if CUSTOM in archs and not get_path(data, "model.builder"):
        yield doc.locate(where, "arch custom needs model.builder: \"package.module:function\" (a Keras builder taking input_shape, num_classes, **params)")
    if CUSTOM not in archs:
        for key in ("builder", "params"):
            if get_path(data, f"model.{key}") is not None:
                yield doc.locate(("model", key), f"model.{key} belongs to arch custom; {', '.join(archs)} is built from its table")
    if CUSTOM in archs and get_path(data, "model.bn_momentum") is not None:
        yield doc.locate(("model", "bn_momentum"), "a custom builder's batch norms are its own; set their momentum in the builder "
                                                   "and remove model.bn_momentum")


@check
def weights_source(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """imagenet only where Keras has ImageNet weights; a file is a .keras or .weights.h5 file (a warning when absent)."""
    weights = get_path(data, "model.weights")
    if weights is None or weights == "none":
        return
    archs, _ = _archs(data)
    if weights == "imagenet":
        for a in archs:
            fam = FAMILIES.get(a)
            if fam is None or fam.imagenet is None:
                have = ", ".join(f.name for f in FAMILIES.values() if f.imagenet)
                yield doc.locate(("model", "weights"), f"Keras has no ImageNet weights for {a} (it has them for {have}); use none or a weights file")
        return
    if not (str(weights).endswith(".keras") or str(weights).endswith(".weights.h5")):
        yield doc.locate(("model", "weights"), f"give none, imagenet, or a .keras or .weights.h5 file; got {weights!r}")
    elif not os.path.isfile(os.path.expanduser(str(weights))):
        yield doc.locate(("model", "weights"), f"{weights} does not exist (yet); the run needs it", warning=True)


@check
def freeze_needs_weights(data: dict[str, Any], doc: LocatedDoc) -> Iterator[Located]:
    """Freezing fine-tunes loaded weights: it needs model.weights, a registered family, fewer epochs than max_epochs and
    a schedule that leaves its learning rate alone (constant, or plateau, without warm-up)."""
    freeze = get_path(data, "train.freeze")
    if not isinstance(freeze, dict):
        return
    weights = get_path(data, "model.weights")
    if weights is None or weights == "none":
        yield doc.locate(("train", "freeze"), "freezing trains the head on top of loaded weights: set model.weights (imagenet or a file), "
                                              "or remove train.freeze")
    if CUSTOM in _archs(data)[0]:
        yield doc.locate(("train", "freeze"), "a custom builder has no head stage to train alone; remove train.freeze")
    epochs, most = freeze.get("epochs"), get_path(data, "train.max_epochs")
    if isinstance(epochs, int) and isinstance(most, int) and epochs >= most:
        yield doc.locate(("train", "freeze", "epochs"), f"the head alone for {epochs} epochs leaves none of train.max_epochs ({most}) to fine-tune")
    schedule = get_path(data, "train.schedule")
    if isinstance(schedule, dict) and (schedule.get("name", "constant") in ("cosine", "step") or schedule.get("warmup_epochs")):
        yield doc.locate(("train", "schedule"), "train.freeze fine-tunes at its own learning_rate, which a cosine or step schedule or a "
                                                "warm-up would override each epoch: use schedule constant or plateau without warm-up, "
                                                "or remove train.freeze")
