"""The README tells the truth about the CLI: every command and flag in its command table exists, every command the
CLI has is in the table, the quick start names files that are there, and the commands that run in seconds run."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from codekiln.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _command_table() -> list[tuple[list[str], list[str]]]:
    """(command path, flags) for each entry of the README's `## Commands` block; a `| sub ...` line continues the
    command above it with another sub-command, an indented line continues its flags."""
    block = README.split("## Commands", 1)[1].split("```", 2)[1]
    entries: list[tuple[list[str], list[str]]] = []
    for line in block.splitlines():
        text = line.strip()
        if text.startswith("codekiln "):
            words = text.split()
            path = [words[1]]
            if words[1] == "tasks":  # `tasks  list | show ... | import ...`: one entry per sub-command
                for part in text.split(None, 2)[2].split(" | "):  # `a|b` inside a part is a choice
                    entries.append(([*path, part.split()[0]], re.findall(r"--[\w-]+", part)))
                continue
            entries.append((path, re.findall(r"--[\w-]+", text)))
        elif text.startswith("| "):
            part = text[1:]
            entries.append(([entries[-1][0][0], part.split()[0]], re.findall(r"--[\w-]+", part)))
        elif text:
            entries[-1][1].extend(re.findall(r"--[\w-]+", text))
    return entries


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert actions, f"{parser.prog} has no sub-commands"
    choices = actions[0].choices
    assert name in choices, f"README names `{parser.prog} {name}`, which does not exist"
    return choices[name]


def test_every_command_and_flag_in_the_readme_exists():
    entries = _command_table()
    assert len(entries) >= len(COMMANDS)
    for path, flags in entries:
        parser = build_parser()
        for name in path:
            parser = _subparser(parser, name)
        known = {option for action in parser._actions for option in action.option_strings}
        missing = [flag for flag in flags if flag not in known]
        assert not missing, f"README: `codekiln {' '.join(path)}` has no {missing}"


def test_every_command_is_in_the_readme():
    named = {path[0] for path, _ in _command_table()}
    assert named == set(COMMANDS), f"README's command table lacks {set(COMMANDS) - named}"


def test_the_quick_start_is_two_commands_on_files_that_exist():
    block = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["./setup.sh && .venv/bin/codekiln run", "./test.sh"]
    for script in ("setup.sh", "test.sh"):
        assert (ROOT / script).stat().st_mode & 0o111, f"{script} is not executable"
    assert "./test.sh" in (ROOT / ".ci" / "run").read_text()  # CI runs the README's test command


def test_the_readme_commands_that_run_in_seconds_run(capsys):
    assert main(["tasks", "list"]) == 0
    listed = capsys.readouterr().out
    assert "python-basic" in listed and "sql-basic" in listed
    assert main(["tasks", "show", "python-basic:test", "--limit", "1"]) == 0
    assert capsys.readouterr().out.strip()
