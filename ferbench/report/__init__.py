"""Reports from results folders: tables, comparisons with baselines, statistics and plots.

Entry points live in :mod:`ferbench.report.api`; the baselines registry in
:mod:`ferbench.report.baselines`. This package imports nothing at import time so that
``from ferbench.report.baselines import baseline_ids`` stays cheap.
"""
