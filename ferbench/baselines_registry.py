"""Where the built-in baselines registry lives, and the ids it defines.

The spec validator checks ``report.compare`` against these ids. It must not import
the report package (pandas, matplotlib, the baselines JSON Schema), so this module
parses the registry's YAML and nothing more; :mod:`ferbench.report.baselines` builds
the full, validated registry on top of it.
"""

from __future__ import annotations

import functools
from pathlib import Path

#: The built-in registry (shipped as package data beside this module).
BUILTIN = Path(__file__).resolve().parent / "baselines.yaml"


@functools.lru_cache(maxsize=1)
def _builtin_ids() -> tuple[str, ...]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(BUILTIN.read_text(encoding="utf-8"), Loader=loader) or {}
    return tuple(str(b.get("id")) for b in data.get("baselines", []) if isinstance(b, dict))


def baseline_ids() -> list[str]:
    """Ids of the built-in baselines (cheap: one YAML parse, cached)."""
    return list(_builtin_ids())
