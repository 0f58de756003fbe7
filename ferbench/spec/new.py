"""A new spec's text: from one of the templates shipped with ferbench, or from an existing spec.

Plain Python; ``ferbench new`` writes what :func:`new_spec_text` returns and validates it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ferbench.errors import FerbenchError, SpecError
from ferbench.spec.compose import load_composed
from ferbench.spec.yaml_loader import read_text

#: The templates under ferbench/templates/ (``NAME.yaml``; its ``name:`` line becomes the experiment's name).
TEMPLATES = ("quickstart", "fer2013", "affectnet", "folder", "rafdb", "affectnet8", "ckplus", "cross_dataset")

_TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"


def check_name(name: str) -> None:
    """Refuse an experiment name that would not make a safe file and folder name."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise FerbenchError(f"name {name!r}: use letters, digits, '_', '.', '-' (at most 64), starting with a letter or digit")


def new_spec_text(name: str, source: str, target: Path) -> str:
    """The text of spec ``name``, to be written at ``target``, from a template name or an existing spec file ``source``;
    its first line the ``$schema`` modeline that points an editor at the spec schema from ``target``."""
    from ferbench.spec.authoring import with_modeline

    if source in TEMPLATES:
        text = (_TEMPLATE_DIR / f"{source}.yaml").read_text(encoding="utf-8")
        return with_modeline(re.sub(r"(?m)^name:.*$", f"name: {name}", text, count=1), target)
    src = Path(source)
    if not os.path.lexists(src):
        raise FerbenchError(f"--from {source}: not a template ({', '.join(TEMPLATES)}) nor a spec file")
    source_doc = load_composed(src)  # refuse a source that does not read as a spec (or whose bases do not) before writing
    if source_doc.problems:  # a non-finite number: reported with the file's other problems by validate, refused here
        raise SpecError(source_doc.problems)
    text = re.sub(r"(?m)^name:.*$", f"name: {name}", read_text(src), count=1)
    if "extends:" in text and src.parent.resolve() != target.parent.resolve():
        raise FerbenchError(f"{src} uses extends with a relative path; write the new spec next to it (--out {src.parent / (name + '.yaml')})")
    return with_modeline(text, target)
