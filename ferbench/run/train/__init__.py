"""One trial: build, compile, train on the input pipeline, score; no Optuna here."""
