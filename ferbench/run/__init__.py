"""Training, search, evaluation and verification: ``ferbench run``, ``worker``, ``evaluate``, ``verify``.

Modules: :mod:`runner` (a plan's runs), :mod:`pool` (the local worker processes),
:mod:`join` (one worker joining a study), :mod:`worker` (the trial loop of one
worker), :mod:`owners` (dead workers on a journal file), :mod:`storage` (Optuna
storages), :mod:`study` (sampler, pruner, trial accounting), :mod:`trial` (one trial), :mod:`callbacks`,
:mod:`evaluate`, :mod:`verify` (re-train and compare with a record), :mod:`metrics`,
:mod:`records` and :mod:`atomic` (the files), :mod:`progress` and :mod:`table` (the
output), :mod:`env`, :mod:`seeding`, :mod:`signals`, :mod:`space`.

Importing this package imports neither TensorFlow nor Optuna; the functions that
train do, when called.
"""
