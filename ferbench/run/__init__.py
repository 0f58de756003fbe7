"""Training and search: ``ferbench run``, ``worker``, ``evaluate``, ``verify``.

:mod:`session` sets up one run once — folder, resolved spec, data, trial set-up,
run.json, study — for the commands, which are its clients: :mod:`runner`
(``run``), :mod:`search.join` (``worker``), :mod:`evaluate`, :mod:`verify`.
:mod:`train` trains one trial (trial, inputs, callbacks, seeding, metrics,
search-space resolution); :mod:`search` runs a study (study, accounting,
reconcile, storage, worker loop, pool, owners). :mod:`progress` and :mod:`table`
are the output, :mod:`frameworks` sets TensorFlow and Optuna up, :mod:`signals`
turns SIGTERM into Ctrl-C.

Importing this package imports neither TensorFlow nor Optuna; the functions that
train do, when called.
"""
