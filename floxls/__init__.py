"""floxls: a language server and publish pipeline for Flox environments."""

__version__ = "0.1.0"
