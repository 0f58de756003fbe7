"""Turn validated, default-filled spec data into the frozen dataclasses of :mod:`types`."""

from __future__ import annotations

from typing import Any

from ferbench.data.kinds import KINDS, choose_layout, default_splits, describe_split
from ferbench.model.arch import ARCH
from ferbench.model.registry import FAMILIES
from ferbench.spec.compose import get_path, set_path
from ferbench.spec.types import (
    SEARCHABLE,
    SPLITS,
    AugmentSpec,
    DatasetSpec,
    DerivedSplit,
    EarlyStopping,
    Freeze,
    LossSpec,
    ModelSpec,
    PrunerSpec,
    ReportSpec,
    RuntimeSpec,
    SamplerSpec,
    SearchParam,
    SearchSpec,
    Spec,
    SplitRef,
    Splits,
    SyntheticSpec,
    TrainSpec,
)
from ferbench.spec.yaml_loader import LocatedDoc, Mark

#: Values of the training hyperparameters that are neither fixed nor searched (the
#: thesis's batch size, Adam's usual rate). Filled into the resolved spec so it states
#: every value; a family's own hyperparameters get its defaults (Keras's, see
#: :func:`resolve_model`).
HYPER_DEFAULTS: dict[str, Any] = {
    "train.learning_rate": 1e-3,
    "train.batch_size": 64,
    "loss.label_smoothing": 0.0,
}


def resolve_model(data: dict[str, Any], doc: LocatedDoc) -> None:
    """Fill the model section for its family, in place: the architecture (default
    efficientnetv2-s), all its stages where ``model.stages`` is absent, and the family's
    defaults for the hyperparameters it has that are neither fixed nor searched.

    Where the architecture is searched, nothing family-specific is filled (each trial
    takes its family's defaults); where the matrix sets it, each cell is filled on its own.
    """
    space = get_path(data, "search.space", {}) or {}
    if "arch" in space:
        return
    matrix = data.get("matrix") or {}
    if any(k in ("model", "model.arch") for k in matrix):
        return
    here = doc.mark_for(("model",)) or Mark("<default>", 1, 1)
    if get_path(data, "model.arch") is None:
        set_path(doc, "model.arch", ARCH, here)
    fam = FAMILIES.get(str(get_path(data, "model.arch")))
    if fam is None:  # custom (its builder has no table), or unknown (the schema says so)
        return
    if get_path(data, "model.stages") is None:
        set_path(doc, "model.stages", list(fam.all_stages), here)
    searched = {SEARCHABLE[n] for n in space}
    for name in fam.takes:
        key = f"model.{name}"
        if key not in searched and get_path(data, key) is None and name in fam.defaults:
            set_path(doc, key, fam.defaults[name], here)


def resolve_implicit(data: dict[str, Any], doc: LocatedDoc) -> list[str]:
    """Fill values that depend on other values (after schema defaults), in place.

    The model section gets its family's defaults (:func:`resolve_model`). Splits a spec
    leaves out get the defaults of the layout at ``dataset.path`` (a cheap look, see
    :func:`ferbench.data.kinds.choose_layout`). Returns notes for the plan: which default
    splits were used, and why those.
    """
    notes: list[str] = []
    space = get_path(data, "search.space", {}) or {}
    searched = {SEARCHABLE[n] for n in space}
    here = Mark("<default>", 1, 1)
    resolve_model(data, doc)
    for key, value in HYPER_DEFAULTS.items():
        if key not in searched and get_path(data, key) is None:
            set_path(doc, key, value, doc.mark_for(tuple(key.split("."))[:1]) or here)
    ds = data["dataset"]
    splits = ds.setdefault("splits", {})
    missing = [name for name in SPLITS if name not in splits]
    if missing:
        kind = KINDS[ds["kind"]]
        choice = choose_layout(kind, ds.get("path"), ds.get("layout", "auto"))
        defaults = default_splits(choice.layout)
        for name in missing:
            splits[name] = defaults[name]
        if kind.needs_path:
            keys = "dataset.splits" if len(missing) == len(SPLITS) else ", ".join(f"dataset.splits.{n}" for n in missing)
            chosen = ", ".join(f"{n} = {describe_split(defaults[n])}" for n in missing)
            notes.append(f"{keys} not given: the defaults of the {choice}: {chosen}")
    for s in splits.values():
        if isinstance(s, dict):
            s.setdefault("stratified", True)
    obj = data["search"]["objective"]
    obj.setdefault("direction", "minimize" if obj["metric"] == "val_loss" else "maximize")
    if data["search"]["sampler"].get("seed") is None:
        data["search"]["sampler"]["seed"] = data["seed"]
    return notes


def _split(v: Any) -> SplitRef:
    if isinstance(v, dict):
        return DerivedSplit(source=v["from"], fraction=float(v["fraction"]), stratified=bool(v.get("stratified", True)))
    return str(v)


def _param(name: str, p: dict[str, Any]) -> SearchParam:
    key = SEARCHABLE[name]
    if "choices" in p:
        return SearchParam(name, key, "categorical", choices=tuple(p["choices"]))
    kind = "float" if "float" in p else "int"
    low, high = p[kind]
    return SearchParam(name, key, kind, low=low, high=high, step=p.get("step"), log=bool(p.get("log", False)))


def build_spec(data: dict[str, Any]) -> Spec:
    """Build a :class:`Spec` from resolved data (schema-valid, checked, defaults filled)."""
    ds, aug, m, loss, tr, se, rt = (data[k] for k in ("dataset", "augment", "model", "loss", "train", "search", "runtime"))
    syn = ds["synthetic"]
    imb = syn["imbalance"]
    es = tr["early_stopping"]
    return Spec(
        name=data["name"],
        description=data.get("description", ""),
        seed=int(data["seed"]),
        seeds=tuple(data.get("seeds") or (data["seed"],)),
        dataset=DatasetSpec(
            kind=ds["kind"],
            path=ds.get("path"),
            layout=ds["layout"],
            labels=ds.get("labels"),
            image_size=ds["image_size"],
            color=ds["color"],
            classes=tuple(ds["classes"]),
            class_map=dict(ds["class_map"]),
            splits=Splits(**{k: _split(ds["splits"][k]) for k in SPLITS}),
            on_bad_sample=ds["on_bad_sample"],
            cache=ds.get("cache"),
            synthetic=SyntheticSpec(
                train=syn["train"], validation=syn["validation"], test=syn["test"],
                imbalance=imb if isinstance(imb, str) else tuple(float(x) for x in imb),
                noise=float(syn["noise"]),
            ),
        ),
        augment=AugmentSpec(**{k: aug[k] for k in ("enabled", "flip", "rotation_deg", "translate", "zoom", "contrast", "brightness")}),
        model=ModelSpec(arch=m.get("arch"), stages=None if m.get("stages") is None else tuple(m["stages"]), width=m.get("width"),
                        depth=m.get("depth"), dropout=m.get("dropout"), top_filters=m.get("top_filters"),
                        drop_connect=m.get("drop_connect"), weights=m.get("weights") or "none", builder=m.get("builder"),
                        params=dict(m.get("params") or {})),
        loss=LossSpec(class_weight=loss["class_weight"], beta=float(loss["beta"]), label_smoothing=loss.get("label_smoothing")),
        train=TrainSpec(
            optimizer=tr["optimizer"], learning_rate=tr.get("learning_rate"), batch_size=tr.get("batch_size"),
            max_epochs=tr["max_epochs"], eval_batch_size=tr["eval_batch_size"],
            early_stopping=None if es is None else EarlyStopping(es["monitor"], es["patience"], float(es["min_delta"]), es["restore_best_weights"]),
            freeze=None if not tr.get("freeze") else Freeze(int(tr["freeze"]["epochs"]), float(tr["freeze"]["learning_rate"])),
        ),
        search=SearchSpec(
            trials=se["trials"],
            sampler=SamplerSpec(se["sampler"]["name"], {k: v for k, v in se["sampler"].items() if k != "name"}),
            pruner=PrunerSpec(se["pruner"]["name"], {k: v for k, v in se["pruner"].items() if k != "name"}),
            metric=se["objective"]["metric"],
            direction=se["objective"]["direction"],
            space=tuple(_param(n, p) for n, p in se["space"].items()),
            timeout_s=None if se.get("timeout_h") is None else float(se["timeout_h"]) * 3600.0,
        ),
        matrix={k: tuple(v) for k, v in (data.get("matrix") or {}).items()},
        report=ReportSpec(compare=tuple(data["report"]["compare"])),
        runtime=RuntimeSpec(
            devices=rt["devices"] if isinstance(rt["devices"], str) else tuple(rt["devices"]),
            workers=rt["workers"], precision=rt["precision"], jit_compile=rt["jit_compile"],
            deterministic=rt["deterministic"], storage=rt.get("storage"), steps_per_execution=rt["steps_per_execution"],
        ),
        results=data["results"],
        raw=data,
    )
