"""Task sources: built-in suites, importers, and `load_tasks` which resolves a --tasks argument."""

from codekiln.tasks.load import load_tasks

__all__ = ["load_tasks"]
