"""Turn validated, default-filled spec data into the frozen dataclasses of :mod:`types`."""

from __future__ import annotations

import copy
from typing import Any, Literal, cast, get_args

from ferbench.data.kinds import KINDS, choose_layout, default_splits, describe_split
from ferbench.model.efficientnetv2.arch import ARCH
from ferbench.model.registry import FAMILIES
from ferbench.spec.compose import get_path, set_path
from ferbench.spec.enums import CorruptionName, ValidationMetric
from ferbench.spec.recipe_types import distill_spec, ema_spec, erasing_spec, mix_spec, swa_spec
from ferbench.spec.recipes import OPTIMIZERS, RECIPES, SCHEDULES, WARMUP, Row, schedule_keys
from ferbench.spec.search_types import (
    COST_METRICS,
    VALIDATION_METRICS,
    ConstraintSpec,
    ObjectiveSpec,
    PrunerSpec,
    SamplerSpec,
    SearchParam,
    SearchSpec,
    default_direction,
)
from ferbench.spec.types import (
    FER2013_CLASSES,
    SEARCHABLE,
    SPLITS,
    AugmentSpec,
    CrossSetSpec,
    DatasetSpec,
    DerivedSplit,
    EarlyStopping,
    EvaluateSpec,
    FacesSpec,
    Freeze,
    LossSpec,
    MlflowTrackingSpec,
    ModelSpec,
    ReportSpec,
    RobustnessSpec,
    RuntimeSpec,
    ScheduleSpec,
    Spec,
    SplitRef,
    Splits,
    SyntheticSpec,
    TrackingSpec,
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


#: Dataset keys an extra test set takes from the spec's own dataset when it leaves them out:
#: the model's input decides the image size and colour.
INHERITED = ("image_size", "color", "cache")


def fill_recipe(data: dict[str, Any]) -> None:
    """Fill the optimizer's, the schedule's and each recipe's values with their defaults, in place.

    Only what the chosen optimizer and schedule use, the recipes whose block is in the
    spec, and nothing that is searched (the table: :mod:`ferbench.spec.recipes`);
    idempotent, so a matrix cell that changes ``train.optimizer`` gets its values too.
    """
    searched = {SEARCHABLE[n] for n in get_path(data, "search.space", {}) or {}}
    train = data.setdefault("train", {})
    _fill_block(train, "train", OPTIMIZERS.get(train.get("optimizer", "adam")), searched)
    schedule = train.get("schedule")
    if isinstance(schedule, dict):
        schedule.setdefault("name", "constant")
        if f"train.schedule.{WARMUP.key}" not in searched:
            schedule.setdefault(WARMUP.key, WARMUP.default)
        _fill_block(schedule, "train.schedule", SCHEDULES.get(schedule["name"]), searched)
    for row in RECIPES.values():
        block = get_path(data, row.block)
        if isinstance(block, dict):
            _fill_block(block, row.block, row, searched)


def _fill_block(block: dict[str, Any], at: str, row: Row | None, searched: set[str]) -> None:
    """A row's defaults into its block, where not set and not searched."""
    for key, value in (row.defaults if row is not None else {}).items():
        if f"{at}.{key}" not in searched and block.get(key) is None:
            block[key] = list(value) if isinstance(value, tuple) else value


def fill_cross_sets(data: dict[str, Any]) -> list[str]:
    """Complete each ``evaluate.on`` entry's dataset block as the spec's own is completed.

    Image size, colour and cache folder come from the spec's dataset when left out,
    schema defaults fill the rest, and splits left out get the defaults of the layout
    found at the block's path. Returns the notes on the default splits used.
    """
    from ferbench.spec.schema import fill_defaults, load_schema

    notes: list[str] = []
    main = data.get("dataset") or {}
    schema = load_schema()["$defs"]["dataset"]
    for i, entry in enumerate(get_path(data, "evaluate.on", []) or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("dataset"), dict):
            continue
        entry.setdefault("split", "test")
        block = entry["dataset"]
        for key in INHERITED:
            if key not in block and key in main:
                block[key] = copy.deepcopy(main[key])
        fill_defaults(block, schema)
        notes += [f"evaluate.on[{i}] ({entry.get('name')}): {n}" for n in _default_splits(block)]
    return notes


def _default_splits(ds: dict[str, Any]) -> list[str]:
    """Complete a dataset block: ``classes: 7 | 8`` as names, and its missing splits the
    defaults of its layout; the note saying which."""
    if ds.get("classes") in (7, 8):
        ds["classes"] = list(FER2013_CLASSES) + (["contempt"] if ds["classes"] == 8 else [])
    notes: list[str] = []
    splits = ds.setdefault("splits", {})
    missing = [name for name in SPLITS if name not in splits]
    if missing and ds.get("kind") in KINDS:
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
    return notes


def resolve_dataset(data: dict[str, Any]) -> list[str]:
    """A matrix cell that sets the dataset section whole: its missing splits get its layout's defaults."""
    return _default_splits(data["dataset"]) if isinstance(data.get("dataset"), dict) else []


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
    notes += _default_splits(data["dataset"])
    fill_recipe(data)
    notes += fill_cross_sets(data)
    fill_objectives(data["search"])
    if data["search"]["sampler"].get("seed") is None:
        data["search"]["sampler"]["seed"] = data["seed"]
    return notes


#: NSGA-II's options and Optuna's defaults, stated in the resolved spec of an nsga2 search only
#: (a spec of another sampler keeps its resolved form and run id).
NSGA2_DEFAULTS: dict[str, Any] = {"population_size": 50, "crossover_prob": 0.9, "swapping_prob": 0.5}


def fill_objectives(search: dict[str, Any]) -> None:
    """Directions of the objectives, the sampler's own options; in place and idempotent.

    With ``search.objectives`` the single ``search.objective`` (a schema default) is dropped:
    the objectives say what the study optimises, and the first validation metric among
    them picks the best trial.
    """
    objectives = search.get("objectives")
    if objectives:
        for obj in objectives:
            if isinstance(obj, dict) and "metric" in obj:
                obj.setdefault("direction", default_direction(obj["metric"]))
        search.pop("objective", None)
    else:
        obj = search.setdefault("objective", {})
        obj.setdefault("metric", "val_loss")
        obj.setdefault("direction", default_direction(obj["metric"]))
    sampler = search.get("sampler") or {}
    if sampler.get("name") == "nsga2":
        for key, value in NSGA2_DEFAULTS.items():
            sampler.setdefault(key, value)


def _split(v: object) -> SplitRef:
    if isinstance(v, dict):
        return DerivedSplit(source=v["from"], fraction=float(v["fraction"]), stratified=bool(v.get("stratified", True)))
    return str(v)


def search_param(name: str, p: dict[str, Any]) -> SearchParam:
    key = SEARCHABLE[name]
    if "choices" in p:
        return SearchParam(name, key, "categorical", choices=tuple(p["choices"]))
    kind: Literal["float", "int"] = "float" if "float" in p else "int"
    low, high = p[kind]
    return SearchParam(name, key, kind, low=low, high=high, step=p.get("step"), log=bool(p.get("log", False)))


def _dataset(ds: dict[str, Any]) -> DatasetSpec:
    syn = ds["synthetic"]
    imb = syn["imbalance"]
    return DatasetSpec(
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
        folds=folds["k"] if isinstance(folds := ds.get("folds"), dict) else folds,
        fold=ds.get("fold"),
        faces=_faces(ds.get("faces")),
        folds_by=folds.get("by", "sample") if isinstance(folds, dict) else "sample",
        min_confidence=float(ds.get("min_confidence", 0)),
        exclude_near_duplicates=ds.get("exclude_near_duplicates", "none"),
        labels_mode=ds.get("labels_mode", "majority"),
        ckplus_neutral_first_frame=bool(ds.get("ckplus", {}).get("neutral_first_frame", False)),
    )


def _faces(f: dict[str, Any] | None) -> FacesSpec | None:
    if not f:
        return None
    return FacesSpec(detector=f["detector"], align=f["align"], margin=float(f["margin"]), min_size=int(f["min_size"]),
                     on_none=f["on_none"], on_many=f["on_many"])


def _schedule(s: dict[str, Any] | None) -> ScheduleSpec:
    if not s:
        return ScheduleSpec()
    keys = schedule_keys()
    return ScheduleSpec(name=s.get("name", "constant"), warmup_epochs=s.get("warmup_epochs"), **{k: s.get(k) for k in keys})


def _evaluate(e: dict[str, Any] | None) -> EvaluateSpec:
    if not e:
        return EvaluateSpec()
    return EvaluateSpec(
        tta=e.get("tta", "none"), crop=float(e.get("crop", 0.875)),
        on=tuple(CrossSetSpec(name=c["name"], dataset=_dataset(c["dataset"]), split=c.get("split", "test"), images=c.get("images"))
                 for c in e.get("on") or ()),
        calibrate=e.get("calibrate", "none"), robustness=_robustness(e.get("robustness")),
    )


def _robustness(r: dict[str, Any] | None) -> RobustnessSpec | None:
    if r is None:
        return None
    return RobustnessSpec(corruptions=tuple(r.get("corruptions") or get_args(CorruptionName)),
                          severities=tuple(int(s) for s in r.get("severities") or (1, 2, 3, 4, 5)))


def _tracking(t: dict[str, Any] | None) -> TrackingSpec:
    if not t:
        return TrackingSpec()
    m = t.get("mlflow")
    mlflow = None if not m else MlflowTrackingSpec(uri=str(m["uri"]), experiment=m.get("experiment"), log_model=bool(m.get("log_model", False)))
    return TrackingSpec(mlflow=mlflow, tensorboard=bool(t.get("tensorboard", False)))


def _search(se: dict[str, Any]) -> SearchSpec:
    objectives = tuple(ObjectiveSpec(o["metric"], o.get("direction") or default_direction(o["metric"])) for o in se.get("objectives") or ())
    if objectives:
        primary = next((o for o in objectives if o.metric in VALIDATION_METRICS), ObjectiveSpec("val_loss", "minimize"))
        metric, direction = cast(ValidationMetric, primary.metric), primary.direction
    else:
        metric = se["objective"]["metric"]
        direction = se["objective"].get("direction") or default_direction(metric)
    bounds = se.get("constraints") or {}
    return SearchSpec(
        trials=se["trials"],
        sampler=SamplerSpec(se["sampler"]["name"], {k: v for k, v in se["sampler"].items() if k != "name"}),
        pruner=PrunerSpec(se["pruner"]["name"], {k: v for k, v in se["pruner"].items() if k != "name"}),
        metric=metric,
        direction=direction,
        space=tuple(search_param(n, p) for n, p in se["space"].items()),
        timeout_s=None if se.get("timeout_h") is None else float(se["timeout_h"]) * 3600.0,
        objectives=objectives,
        constraints=tuple(ConstraintSpec(m, float(bounds[m]["max"])) for m in COST_METRICS if m in bounds),
    )


def build_spec(data: dict[str, Any]) -> Spec:
    """Build a :class:`Spec` from resolved data (schema-valid, checked, defaults filled)."""
    ds, aug, m, loss, tr, se, rt = (data[k] for k in ("dataset", "augment", "model", "loss", "train", "search", "runtime"))
    es = tr["early_stopping"]
    return Spec(
        name=data["name"],
        description=data.get("description", ""),
        seed=int(data["seed"]),
        seeds=tuple(data.get("seeds") or (data["seed"],)),
        dataset=_dataset(ds),
        augment=AugmentSpec(**{k: aug[k] for k in ("enabled", "flip", "rotation_deg", "translate", "zoom", "contrast", "brightness")},
                            mixup=mix_spec(aug.get("mixup")), cutmix=mix_spec(aug.get("cutmix")),
                            random_erasing=erasing_spec(aug.get("random_erasing"))),
        model=ModelSpec(arch=m.get("arch"), stages=None if m.get("stages") is None else tuple(m["stages"]), width=m.get("width"),
                        depth=m.get("depth"), dropout=m.get("dropout"), top_filters=m.get("top_filters"),
                        drop_connect=m.get("drop_connect"), weights=m.get("weights") or "none", builder=m.get("builder"),
                        params=dict(m.get("params") or {}),
                        bn_momentum=None if m.get("bn_momentum") is None else float(m["bn_momentum"])),
        loss=LossSpec(class_weight=loss["class_weight"], beta=float(loss["beta"]), label_smoothing=loss.get("label_smoothing")),
        train=TrainSpec(
            optimizer=tr["optimizer"], learning_rate=tr.get("learning_rate"), batch_size=tr.get("batch_size"),
            max_epochs=tr["max_epochs"], eval_batch_size=tr["eval_batch_size"],
            early_stopping=None if es is None else EarlyStopping(es["monitor"], es["patience"], float(es["min_delta"]), es["restore_best_weights"]),
            momentum=tr.get("momentum"), nesterov=tr.get("nesterov"), weight_decay=tr.get("weight_decay"),
            schedule=_schedule(tr.get("schedule")),
            freeze=None if not tr.get("freeze") else Freeze(int(tr["freeze"]["epochs"]), float(tr["freeze"]["learning_rate"])),
            ema=ema_spec(tr.get("ema")), swa=swa_spec(tr.get("swa")), distill=distill_spec(tr.get("distill")),
        ),
        search=_search(se),
        matrix={k: tuple(v) for k, v in (data.get("matrix") or {}).items()},
        report=ReportSpec(compare=tuple(data["report"]["compare"])),
        runtime=RuntimeSpec(
            devices=rt["devices"] if rt["devices"] in ("auto", "cpu") else tuple(rt["devices"]),
            workers=rt["workers"], precision=rt["precision"], jit_compile=rt["jit_compile"],
            deterministic=rt["deterministic"], storage=rt.get("storage"), steps_per_execution=rt["steps_per_execution"],
            memory_mb=rt.get("memory_mb", "auto"),
        ),
        results=data["results"],
        evaluate=_evaluate(data.get("evaluate")),
        tracking=_tracking(data.get("tracking")),
        raw=data,
    )
