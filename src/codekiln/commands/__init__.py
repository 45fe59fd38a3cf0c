"""Thin CLI adapters, one module per subcommand: parse flags, call the stage, print the result."""
