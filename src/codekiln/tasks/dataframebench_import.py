"""Import DataFrameBench (PyPI `dataframebench`, CC-BY-4.0): 825 BigCodeBench-derived pandas tasks with
unittest tests, in train / val / test splits.

The package declares Python >= 3.12, so it is never imported: its data files are read from the wheel, an
sdist, an unpacked folder, a split's `.jsonl`, or the installed package's folder. Its canary is honoured:
`val` and `test` are evaluation-only, so they are imported only under their own split names (never as
`train`) and marked `meta["eval_only"]` with the canary GUID.
"""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from codekiln.errors import UserError
from codekiln.progress import say
from codekiln.records import Task

CANARY = "2e1cb3c3-d243-4041-a163-e7a77c5c5fa2"
EVAL_ONLY = ("val", "test")
ID_SPLITS = {"DFB/T": "train", "DFB/V": "val", "DFB/B": "test"}  # task id prefixes of the three splits
IMPORT_LINE = "import pandas as pd"
INSTRUCTION_LINE = "Use pandas as the data processing library in your solution."
DOWNLOAD = ("pip download --no-deps --python-version 3.12 --only-binary=:all: dataframebench==0.1.1 -d DIR, "
            "then pass DIR/dataframebench-0.1.1-py3-none-any.whl")


def _member_text(path: Path, split: str) -> str:
    """The text of `data/SPLIT.jsonl` from a wheel, an sdist, a folder or a `.jsonl` file."""
    name = f"{split}.jsonl"
    if path.is_file() and path.suffix == ".jsonl":
        return path.read_text(encoding="utf-8")
    if path.is_file() and path.suffix == ".whl":
        with zipfile.ZipFile(path) as whl:
            members = [m for m in whl.namelist() if m.endswith(f"dataframebench/data/{name}")]
            if members:
                return whl.read(members[0]).decode("utf-8")
    elif path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path) as sdist:
            members = [m for m in sdist.getmembers() if m.isfile() and m.name.endswith(f"data/{name}")]
            if members:
                fh = sdist.extractfile(members[0])
                if fh is not None:
                    return io.TextIOWrapper(fh, encoding="utf-8").read()
    elif path.is_dir():
        for candidate in (path / name, path / "data" / name, path / "dataframebench" / "data" / name):
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
        found = sorted(path.rglob(f"dataframebench/data/{name}"))
        if found:
            return found[0].read_text(encoding="utf-8")
    else:
        raise UserError(f"{path}: expected the dataframebench wheel (.whl), sdist (.tar.gz), a folder, or a .jsonl")
    raise UserError(f"{path}: holds no dataframebench data/{name}")


def _installed() -> Path:
    spec = importlib.util.find_spec("dataframebench")  # locates the folder without running the package
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"dataframebench is not installed here (it needs Python >= 3.12); {DOWNLOAD} as PATH")
    return Path(list(spec.submodule_search_locations)[0])


def fill_prompt(text: str) -> str:
    """Pin the library condition to pandas, as the package's `fill_condition(library='pandas')` does."""
    return text.replace("{library_import}", IMPORT_LINE).replace("{library_instruction}", INSTRUCTION_LINE)


def task_from_record(record: dict[str, Any], split: str) -> Task:
    origin = ID_SPLITS.get(str(record["task_id"])[:5])
    if split == "train" and origin in EVAL_ONLY:
        raise UserError(f"task {record['task_id']} belongs to DataFrameBench's evaluation-only {origin!r} split "
                        f"(canary {CANARY}); it cannot be imported as train")
    truth = record.get("ground_truth") or {}
    meta: dict[str, Any] = {
        "source": "dataframebench", "dataframebench_split": split, "category": record.get("category"),
        "libs": record.get("libs") or [], "seed_id": record.get("seed_id"),
    }
    if split in EVAL_ONLY:
        meta.update(eval_only=True, canary=CANARY)
    return Task(
        task_id=record["task_id"], kind="pandas", prompt=fill_prompt(record["prompt"]), split=split,
        entry_point=record.get("entry_point") or "task_func", test=record["test_code"],
        reference=truth.get("pandas"), meta=meta,
    )


def _warn_missing_libs(tasks: list[Task]) -> None:
    names = {"sklearn": "scikit-learn", "bs4": "beautifulsoup4", "dateutil": "python-dateutil"}
    missing = sorted({lib for t in tasks for lib in t.meta.get("libs", []) if lib != "scikit-learn"
                      and importlib.util.find_spec(lib) is None})
    if missing:
        needing = sum(1 for t in tasks if set(t.meta.get("libs", [])) & set(missing))
        say(f"note: {needing} of {len(tasks)} tasks need libraries not installed here: "
              f"{' '.join(names.get(m, m) for m in missing)} (they will fail with ModuleNotFoundError "
              "until installed)")


def import_tasks(path: str | None, split: str = "test") -> list[Task]:
    """DataFrameBench's `split` (train, val or test) as codekiln pandas tasks in that same split."""
    if split not in ("train", *EVAL_ONLY):
        raise UserError(f"unknown dataframebench split {split!r}; choose from train, val, test")
    source = Path(path) if path else _installed()
    if not source.exists():
        raise UserError(f"{source}: no such file or folder")
    if source.is_file() and source.suffix == ".jsonl" and source.stem in EVAL_ONLY and source.stem != split:
        raise UserError(f"{source} is DataFrameBench's {source.stem!r} split, which is evaluation-only "
                        f"(canary {CANARY}); import it with --split {source.stem}, never as {split!r}")
    tasks: list[Task] = []
    for number, line in enumerate(_member_text(source, split).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            tasks.append(task_from_record(record, split))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise UserError(f"{source}: {split}.jsonl line {number}: not a dataframebench task ({err})") from None
    if not tasks:
        raise UserError(f"{source}: the {split} split holds no tasks")
    _warn_missing_libs(tasks)
    return tasks
