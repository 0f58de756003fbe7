"""Phase two of validation: small named semantic checks, one rule each.

Each check takes the schema-valid, default-filled spec data and its positions and
yields located problems. Checks never repeat what the schema already enforces. They
live by the part of the spec they read; importing this package registers them all,
in one fixed order (equal locations keep it in the messages).
"""

from __future__ import annotations

from typing import Any

from ferbench.errors import Located
from ferbench.spec.checks import datasets, experiment, model, objectives, protocol, search  # noqa: F401 - registers the checks
from ferbench.spec.checks.base import CHECKS
from ferbench.spec.yaml_loader import LocatedDoc

#: The order the checks run in, by module (each module's in the order it defines them):
#: problems at one location are reported in this order.
ORDER = ("search", "model", "datasets", "objectives", "experiment", "protocol")


def semantic_problems(data: dict[str, Any], doc: LocatedDoc) -> list[Located]:
    out: list[Located] = []
    for fn in sorted(CHECKS, key=lambda fn: ORDER.index(fn.__module__.rsplit(".", 1)[-1])):
        out.extend(fn(data, doc))
    return out
