import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import codekiln
from codekiln.cli import COMMANDS, main
from codekiln.tasks.humaneval import bundled_humaneval_path


def run_cli(*args, capsys=None):
    code = main(list(args))
    return code


def test_every_module_imports():
    names = [m.name for m in pkgutil.walk_packages(codekiln.__path__, "codekiln.")]
    assert "codekiln.cli" in names
    for name in names:
        importlib.import_module(name)


def test_help_lists_all_subcommands():
    out = subprocess.run([sys.executable, "-m", "codekiln.cli", "--help"], capture_output=True, text=True, check=True)
    for name in COMMANDS:
        assert name in out.stdout


def test_import_humaneval_real_file(tmp_path):
    out = tmp_path / "he.jsonl"
    assert main(["tasks", "import", "humaneval", bundled_humaneval_path(), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 164
    assert rows[0]["task_id"] == "HumanEval/0" and rows[0]["kind"] == "python"
    assert rows[0]["entry_point"] == "has_close_elements" and "def check" in rows[0]["test"]
    assert rows[0]["reference"].strip()  # canonical solution kept as reference


def test_import_humaneval_to_stdout(capsys):
    assert main(["tasks", "import", "humaneval", bundled_humaneval_path()]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 164


def test_imported_file_reads_back_as_tasks(tmp_path):
    from codekiln.tasks.load import load_tasks

    out = tmp_path / "he.jsonl.gz"
    assert main(["tasks", "import", "humaneval", bundled_humaneval_path(), "--out", str(out)]) == 0
    tasks = load_tasks(str(out))
    assert len(tasks) == 164 and tasks[163].task_id == "HumanEval/163"


def test_tasks_show_limit(capsys):
    assert main(["tasks", "show", "humaneval", "--limit", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_tasks_list_shows_sizes(capsys):
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    assert "humaneval" in out and "164" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["tasks", "import", "humaneval", "/nonexistent.jsonl"], "no such file"),
        (["tasks", "show", "no-such-suite"], "neither a file nor a built-in suite"),
        (["tasks", "show", "humaneval", "--limit", "-1"], "--limit"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_bad_humaneval_line_reports_file_line(tmp_path, capsys):
    bad = tmp_path / "h.jsonl"
    bad.write_text('{"task_id": "X/0", "prompt": "def f():"}\n')
    assert main(["tasks", "import", "humaneval", str(bad)]) == 2
    assert f"{bad}:1: not a HumanEval problem" in capsys.readouterr().err


def test_json_mode_writes_only_json_lines_for_scripts(tmp_path):
    """`codekiln --json`: every stderr line is a JSON event (bars, messages, errors), nothing drawn."""
    import dataclasses

    from codekiln.records import write_jsonl
    from codekiln.tasks.load import load_tasks

    tasks = tmp_path / "untested.jsonl"
    write_jsonl(tasks, [dataclasses.replace(t, test=None) for t in load_tasks("python-basic:train")[:3]])
    done = subprocess.run([sys.executable, "-m", "codekiln.cli", "--json", "tasks", "synthesize-tests", "--tasks",
                           str(tasks), "--out", str(tmp_path / "out.jsonl"), "--no-model"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]  # raises on any line that is not JSON
    kinds = [e["event"] for e in events]
    assert kinds[0] == "stage_start" and "stage_end" in kinds and kinds[-1] == "message"
    end = next(e for e in events if e["event"] == "stage_end")
    assert end["stage"] == "ground truth" and end["done"] == end["total"] == 3 and end["elapsed_s"] >= 0
    assert events[-1]["text"].startswith("wrote 3 of 3 tasks")
    bad = subprocess.run([sys.executable, "-m", "codekiln.cli", "--json", "run", "train.peft=lroa"],
                         capture_output=True, text=True, timeout=120)
    (error,) = [json.loads(line) for line in bad.stderr.splitlines()]
    assert bad.returncode == 2 and error["event"] == "error" and "did you mean 'lora'" in error["message"]


def test_json_mode_turns_console_lines_and_tables_into_message_events(capsys):
    from rich.table import Table

    from codekiln.progress import console, set_json

    table = Table("round", "pass@1")
    table.add_row("1", "16.7%")
    set_json(True)
    try:
        console.print("[bold]run[/bold] quick in runs/quick")
        console.print(table)
    finally:
        set_json(False)
    first, second = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert first["event"] == "message" and first["text"] == "run quick in runs/quick"
    assert "16.7%" in second["text"] and "round" in second["text"]
