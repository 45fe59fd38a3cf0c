"""codekiln: make a code LLM better at a family of coding tasks from its own verified samples."""

__version__ = "0.1.0"
