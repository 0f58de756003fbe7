"""``MODEL_CARD.md``: the Markdown view of a model card's JSON twin (:mod:`ferbench.export.card`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _cell(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _small(v: object) -> object:
    """Learning rates and decays as 5e-06, not 0.0000."""
    return f"{v:.3g}" if isinstance(v, float) and v != 0 and abs(v) < 1e-2 else v


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A GitHub Markdown table through tabulate's ``pipe`` format (cells formatted here, pipes escaped)."""
    from tabulate import tabulate

    cells = [[_cell(c) for c in row] for row in rows] or [["" for _ in header]]
    text = str(tabulate(cells, headers=[_cell(h) for h in header], tablefmt="pipe", disable_numparse=True))
    lines = text.splitlines()
    return (lines if rows else lines[:2]) + [""]


def _ci(ci: Sequence[float] | None) -> str:
    return "-" if not ci else f"[{ci[0]:.4f}, {ci[1]:.4f}]"


def _metrics(metrics: Mapping[str, Any]) -> list[str]:
    out = ["## Metrics", "", "Every metrics block of the trial's record; 95% Wilson intervals for proportions.", ""]
    for name, block in metrics.items():
        out += [f"### {name} ({block['images']} images)", ""]
        out += md_table(["metric", "value", "95% interval"], [(k, v["value"], _ci(v["ci95"])) for k, v in block["values"].items()])
        out += md_table(["class", "precision", "recall", "recall 95% interval", "F1", "support"],
                        [(c, v["precision"], v["recall"], _ci(v["recall_ci95"]), v["f1"], v["support"]) for c, v in block["per_class"].items()])
    return out


def _robustness(rob: Mapping[str, Any] | None) -> list[str]:
    if not rob:
        return []
    out = ["## Robustness", "", f"Test accuracy under corruptions (seed {rob['seed']}); clean: {_cell(rob['clean'])}.", ""]
    return out + md_table(["corruption", *[f"severity {s}" for s in rob["severities"]]],
                          [(name, *values) for name, values in rob["accuracy"].items()])


def _latency_rows(label: str, lat: Mapping[str, Any] | None) -> list[tuple[object, ...]]:
    if not lat:
        return []
    return [(label, lat["runtime"], lat["device"], lat.get("threads"), lat.get("load_1min"), b["batch_size"], b["median_ms"])
            for b in lat["batches"]]


def _efficiency(card: Mapping[str, Any]) -> list[str]:
    eff, exp = card["efficiency"], card["export"]
    out = ["## Efficiency", "", f"Parameters: {_cell(eff['params'])}; multiply-accumulates: {_cell(eff['macs'])}; "
           f"exported files: {eff['export_bytes']:,} bytes.", ""]
    out += md_table(["model", "runtime", "device", "threads", "1-min load", "batch", "median ms"],
                    _latency_rows("Keras", eff["keras_latency"]) + _latency_rows(card["model"]["format"], eff["export_latency"]))
    parity = exp["parity"]
    out += [f"Exported model's test accuracy: {_cell(exp['test_accuracy'])} (Keras: {_cell(exp['keras_test_accuracy'])})."]
    if parity:
        out += [f"Largest probability difference against Keras on {parity['images']} test images: {parity['max_abs_prob_diff']:.3g} "
                f"(tolerance {parity['tolerance']:g}, {'within' if parity['within_tolerance'] else 'OUTSIDE'})."]
    if exp["converter"]:
        c = exp["converter"]
        out += [f"Converter: {c['name']} {c['version']}" + (f", opset {c['opset']}" if "opset" in c else "") + "."]
    return out + [""]


def card_markdown(card: Mapping[str, Any]) -> str:
    """The whole card as Markdown."""
    m, d, p, pre, lim = card["model"], card["data"], card["protocol"], card["preprocessing"], card["limits"]
    out = [f"# Model card: {m['name']}", "", f"Run `{m['run_id']}` of spec `{m['spec_name']}`, trial {m['trial']}, "
           f"architecture `{m['architecture']}`, exported as `{m['format']}` ({', '.join(m['files'])}) from `{m['source']}` on {m['created']}.", "",
           "## Data and protocol", "",
           f"Dataset `{d['dataset']}` ({_cell(d.get('source'))}), classes: {', '.join(d['classes'])}.", ""]
    out += md_table(["split", "from", "images"], [(k, _cell(d["splits"].get(k)), v) for k, v in d["images"].items()])
    out += [f"Chosen on the {p['chosen_on']} split by `{p['objective']}` ({p['direction']}) among {p['trials']} complete trials; "
            f"seed {p['seed']}, {p['epochs']} epochs (best epoch {_cell(p['best_epoch'])}).", ""]
    out += md_table(["hyperparameter", "value"], [(k, _small(v)) for k, v in sorted(p["hyperparameters"].items())])
    out += ["## Preprocessing", "", f"Input {pre['input_shape']} ({pre['color']}): {pre['pixels']}; {pre.get('face_crop', '')}.", ""]
    out += _metrics(card["metrics"]) + _robustness(card.get("robustness")) + _efficiency(card)
    out += ["## Known limits", "", f"- Classes: {', '.join(lim['classes'])} only.", f"- Input: {lim['input']}.",
            f"- Trained and tested on {lim['trained_on']}; not checked on:"] + [f"  - {x}" for x in lim["not_checked"]] + [""]
    out += ["## Reproduce", "", "```"] + list(card["reproduce"]) + ["```", ""]
    return "\n".join(out)
