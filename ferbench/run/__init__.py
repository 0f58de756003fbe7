"""Training, search and evaluation: ``ferbench run`` and ``ferbench evaluate``.

Modules: :mod:`runner` (a plan's runs), :mod:`worker` (the trial loop of one
worker), :mod:`study` (storage, sampler, pruner, trial accounting), :mod:`trial`
(one trial), :mod:`callbacks`, :mod:`evaluate`, :mod:`metrics`, :mod:`records`
and :mod:`atomic` (the files), :mod:`progress` and :mod:`table` (the output),
:mod:`env`, :mod:`seeding`, :mod:`space`.

Importing this package imports neither TensorFlow nor Optuna; the functions that
train do, when called.
"""
