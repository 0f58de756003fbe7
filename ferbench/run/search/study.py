"""The Optuna study of a run: sampler, pruner, and opening it (storages: :mod:`ferbench.run.search.storage`).

How trials count toward ``search.trials`` is :mod:`ferbench.run.search.accounting`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ferbench._lazy import require
from ferbench.spec.search_types import PrunerSpec, SamplerSpec, SearchParam
from ferbench.spec.types import Spec

if TYPE_CHECKING:
    import optuna  # noqa: F811
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler
    from optuna.storages import BaseStorage

    from ferbench.run.session import RunSession


def sampler_seed(seed: int, *, stream: int = 0, resumed_at: int = 0) -> int:
    """The seed a sampler instance gets.

    A fresh single-worker run uses the spec's seed as is. A second worker
    (``stream``) or a restart after ``resumed_at`` trials gets a seed derived from
    it: otherwise it would replay the same random draws and propose parameters
    the study has already tried.
    """
    if stream == 0 and resumed_at == 0:
        return int(seed)
    digest = hashlib.sha256(f"{seed}:{stream}:{resumed_at}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def effective_constant_liar(spec: SamplerSpec, parallel: bool) -> bool:
    """TPE's ``constant_liar``: the spec's value, turned on when several workers share the study.

    With the liar, a running trial counts as a bad result while the sampler
    decides, so parallel workers do not all propose the same promising point.
    """
    return bool(spec.options.get("constant_liar", False)) or (parallel and spec.name == "tpe")


def make_sampler(spec: SamplerSpec, space: tuple[SearchParam, ...], run_seed: int, *,
                 stream: int = 0, resumed_at: int = 0, parallel: bool = False) -> BaseSampler:
    """The spec's sampler, every option passed explicitly and seeded.

    Optuna's defaults change between versions (Optuna 5 turned TPE's
    ``multivariate`` and ``constant_liar`` on), so nothing is left to them.
    See :func:`sampler_seed` for ``stream`` and ``resumed_at``. QMC and grid
    samplers index their sequence by trial, so they keep the spec's seed.
    ``parallel``: several workers share the study (TPE then lies constantly).
    """
    import optuna  # typed, and imported only when a study is made

    opts = dict(spec.options)
    seed = opts.get("seed")
    seed = int(run_seed if seed is None else seed)
    if spec.name not in ("qmc", "grid"):
        seed = sampler_seed(seed, stream=stream, resumed_at=resumed_at)
    s = optuna.samplers
    if spec.name == "tpe":
        kwargs: dict[str, Any] = dict(
            seed=seed,
            multivariate=bool(opts.get("multivariate", False)),
            group=bool(opts.get("group", False)),
            constant_liar=effective_constant_liar(spec, parallel),
            n_startup_trials=int(opts.get("n_startup_trials", 10)),
            n_ei_candidates=int(opts.get("n_ei_candidates", 24)),
        )
        # Deprecated since Optuna 4.9 with default False: passed only when switched on.
        if opts.get("consider_endpoints"):
            kwargs["consider_endpoints"] = True
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # consider_endpoints' deprecation
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # group
            return s.TPESampler(**kwargs)
    if spec.name == "random":
        return s.RandomSampler(seed=seed)
    if spec.name == "grid":
        from ferbench.run.train.space import grid_space

        return s.GridSampler(grid_space(space), seed=seed)
    if spec.name == "qmc":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return s.QMCSampler(seed=seed, scramble=True, independent_sampler=s.RandomSampler(seed=seed))
    if spec.name == "nsga2":
        # Constraints reach it through each trial's own constraint values (Trial.set_constraint).
        return s.NSGAIISampler(seed=seed, population_size=int(opts.get("population_size", 50)),
                               crossover_prob=float(opts.get("crossover_prob", 0.9)), swapping_prob=float(opts.get("swapping_prob", 0.5)))
    if spec.name == "cmaes":
        require("cmaes")  # an optional package: say how to install it
        return s.CmaEsSampler(seed=seed, n_startup_trials=int(opts.get("n_startup_trials", 1)),
                              independent_sampler=s.RandomSampler(seed=seed))
    raise ValueError(f"unknown sampler {spec.name!r}")


def make_pruner(spec: PrunerSpec, max_epochs: int | None = None) -> BasePruner:
    """The spec's pruner; ``none`` is Optuna's ``NopPruner`` (the thesis setting).

    Steps are epochs (1-based). Hyperband's largest budget is ``max_epochs``, stated
    rather than inferred from the first trial that finishes.
    """
    import optuna

    o = dict(spec.options)
    p = optuna.pruners
    if spec.name == "none":
        return p.NopPruner()
    if spec.name == "median":
        return p.MedianPruner(n_startup_trials=int(o.get("n_startup_trials", 5)), n_warmup_steps=int(o.get("n_warmup_steps", 0)))
    if spec.name == "successive_halving":
        return p.SuccessiveHalvingPruner(min_resource=int(o.get("min_resource", 1)), reduction_factor=int(o.get("reduction_factor", 3)))
    if spec.name == "hyperband":
        return p.HyperbandPruner(min_resource=int(o.get("min_resource", 1)), reduction_factor=int(o.get("reduction_factor", 3)),
                                 max_resource=int(max_epochs) if max_epochs else "auto")
    raise ValueError(f"unknown pruner {spec.name!r}")


def open_study(spec: Spec, *, study_name: str, storage: BaseStorage, spec_hash: str, create: bool = True, stream: int = 0,
               parallel: bool = False) -> optuna.Study:
    """Create (or load) the run's study; refuse one made from a different spec.

    The study's user attribute ``spec_hash`` ties it to its resolved spec, so a
    worker joining from another host with a different spec is refused.
    ``parallel``: this process is one of several workers (see :func:`make_sampler`).
    """
    import optuna

    from ferbench.errors import ResultsError

    pruner = make_pruner(spec.search.pruner, spec.train.max_epochs)
    if create:
        # One objective keeps a single-objective study (its pruner works); several make a multi-objective one.
        directions = [g.direction for g in spec.search.goals]
        study = optuna.create_study(storage=storage, pruner=pruner, study_name=study_name, load_if_exists=True,
                                    **({"directions": directions} if spec.search.multi else {"direction": directions[0]}))
    else:
        try:
            study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner)
        except KeyError:
            raise ResultsError(f"no study named {study_name} in this storage{_other_studies(storage, spec.name, spec_hash)}; "
                               "start it with `ferbench run SPEC --storage URL`, or create it (create=True; --create on the command line)") from None
    # The sampler is seeded from what the study already holds (see sampler_seed).
    study.sampler = make_sampler(spec.search.sampler, spec.search.space, spec.seed, stream=stream,
                                 resumed_at=len(study.get_trials(deepcopy=False)), parallel=parallel)
    have = study.user_attrs.get("spec_hash")
    if have is None:
        study.set_user_attr("spec_hash", spec_hash)
        study.set_user_attr("spec_name", spec.name)
    elif have != spec_hash:
        raise ResultsError(
            f"study {study_name} was made from a different spec (hash {have[:12]}, this spec {spec_hash[:12]}); "
            "use the same spec (or start over: fresh=True; `ferbench run --fresh` on the command line)"
        )
    return study


def _other_studies(storage: BaseStorage, spec_name: str, spec_hash: str) -> str:
    """Explain a missing study: the storage holds the same experiment made from another spec."""
    try:
        others = [(s.study_name, str(s.user_attrs.get("spec_hash", ""))) for s in storage.get_all_studies()
                  if s.user_attrs.get("spec_name") == spec_name]
    except Exception:
        return ""
    if not others:
        return ""
    listed = ", ".join(f"{name} (spec hash {h[:12]})" for name, h in others[:5])
    return (f"; it holds {listed} of experiment {spec_name!r}, made from a different spec than this one "
            f"(hash {spec_hash[:12]}): this worker is refused")


def open_run_study(session: RunSession, *, create: bool = True, stream: int = 0, parallel: bool = False) -> optuna.Study:
    """The Optuna study of ``session``'s run in its storage (refused when made from a different spec)."""
    from ferbench.run.search.storage import open_storage

    return open_study(session.spec, study_name=session.run_id, storage=open_storage(session.storage_url),
                      spec_hash=session.planned.spec_hash, create=create, stream=stream, parallel=parallel)
