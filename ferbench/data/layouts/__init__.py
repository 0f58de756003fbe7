"""Readers of datasets as released, one module per release: RAF-DB, ExpW, CK+, JAFFE, KDEF.

Each module lists the faces of its release from the label files and file names
(:class:`~ferbench.data.layouts.base.Listing`); :func:`~ferbench.data.layouts.base.read_listing`
decodes any listing. :data:`LISTERS` is the table :func:`ferbench.data.layout.detect`
reads through the ``lister`` of a layout row in :mod:`ferbench.data.kinds`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from ferbench.data.layouts import ckplus, expw, jaffe, kdef, rafdb
from ferbench.data.layouts.base import Listing
from ferbench.spec.types import DatasetSpec

#: Lister name (a layout row's ``lister``) -> the function that lists a release's faces.
LISTERS: Mapping[str, Callable[[Path, DatasetSpec], Listing | None]] = MappingProxyType({
    "rafdb": rafdb.listing, "expw": expw.listing, "ckplus": ckplus.listing, "jaffe": jaffe.listing, "kdef": kdef.listing,
})
