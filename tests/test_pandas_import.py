"""The DataFrameBench importer, on a tiny wheel built in the test (same layout and record shape as 0.1.1)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from codekiln.errors import UserError
from codekiln.tasks.dataframebench_import import CANARY, import_tasks

PROMPT = ("Write self-contained Python code ...\n\nSum a column.\n\n{library_instruction}\n\n```python\n"
          "{library_import}\n\ndef task_func(df):\n    \"\"\"Sum column a.\"\"\"\n```")
TEST_CODE = ("import unittest\nimport pandas as pd\nclass TestCases(unittest.TestCase):\n"
             "    def test_sum(self):\n        self.assertEqual(task_func(pd.DataFrame({'a': [1, 2]})), 3)\n")


def _record(task_id: str) -> dict:
    return {"task_id": task_id, "category": "aggregation", "entry_point": "task_func", "libs": ["pandas"],
            "prompt": PROMPT, "test_code": TEST_CODE, "seed_id": "BigCodeBench/1",
            "ground_truth": {"pandas": "import pandas as pd\ndef task_func(df):\n    return int(df['a'].sum())\n",
                             "polars": "..."}}


def _wheel(tmp_path: Path) -> Path:
    path = tmp_path / "dataframebench-0.1.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for split, prefix in (("train", "T"), ("val", "V"), ("test", "B")):
            lines = [json.dumps(_record(f"DFB/{prefix}000{i}")) for i in (1, 2)]
            whl.writestr(f"dataframebench/data/{split}.jsonl", "\n".join(lines) + "\n")
        whl.writestr("dataframebench/CANARY.txt", f"canary GUID {CANARY}\n")
    return path


def test_splits_keep_their_names_and_eval_splits_are_marked(tmp_path):
    wheel = _wheel(tmp_path)
    train = import_tasks(str(wheel), split="train")
    test = import_tasks(str(wheel), split="test")
    assert [t.task_id for t in train] == ["DFB/T0001", "DFB/T0002"] and {t.split for t in train} == {"train"}
    assert {t.split for t in test} == {"test"} and all(t.meta["eval_only"] and t.meta["canary"] == CANARY
                                                      for t in test)
    assert "eval_only" not in train[0].meta
    task = test[0]
    assert task.kind == "pandas" and task.entry_point == "task_func" and task.test == TEST_CODE
    assert "import pandas as pd" in task.prompt and "{library" not in task.prompt
    assert "Use pandas" in task.prompt


def test_eval_only_data_is_never_imported_as_train(tmp_path):
    data = tmp_path / "test.jsonl"
    data.write_text(json.dumps(_record("DFB/B0001")) + "\n")
    with pytest.raises(UserError, match="evaluation-only"):
        import_tasks(str(data), split="train")
    renamed = tmp_path / "mine.jsonl"
    renamed.write_text(json.dumps(_record("DFB/V0001")) + "\n")
    with pytest.raises(UserError, match="evaluation-only"):
        import_tasks(str(renamed), split="train")
    assert import_tasks(str(data), split="test")[0].split == "test"


def test_unpacked_folder_and_bad_paths(tmp_path):
    with zipfile.ZipFile(_wheel(tmp_path)) as whl:
        whl.extractall(tmp_path / "unpacked")
    assert len(import_tasks(str(tmp_path / "unpacked"), split="val")) == 2
    with pytest.raises(UserError, match="no such file"):
        import_tasks(str(tmp_path / "missing.whl"), split="test")
    with pytest.raises(UserError, match="unknown dataframebench split"):
        import_tasks(str(tmp_path / "unpacked"), split="dev")


def test_imported_task_verifies_with_its_tests(tmp_path):
    from codekiln.config import VerifyConfig
    from codekiln.records import Sample
    from codekiln.verify import get_verifier

    task = import_tasks(str(_wheel(tmp_path)), split="test")[0]
    verifier = get_verifier("pandas", VerifyConfig(workers=1, timeout_s=5.0))
    try:
        jobs = [(task, Sample(task_id=task.task_id, sample_id=str(i), completion=code))
                for i, code in enumerate([task.reference, "def task_func(df):\n    return 0\n"])]
        assert [v.status for v in verifier.verify(jobs)] == ["passed", "failed"]
    finally:
        verifier.close()


def test_cli_refuses_eval_split_as_train_with_one_line(tmp_path):
    data = tmp_path / "val.jsonl"
    data.write_text(json.dumps(_record("DFB/V0001")) + "\n")
    done = subprocess.run([sys.executable, "-m", "codekiln.cli", "tasks", "import", "dataframebench", str(data),
                           "--split", "train"], capture_output=True, text=True)
    assert done.returncode == 2 and "evaluation-only" in done.stderr and "Traceback" not in done.stderr
