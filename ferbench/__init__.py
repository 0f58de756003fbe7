"""ferbench: a declarative benchmark toolkit for facial expression recognition."""

__version__ = "0.1.0"
