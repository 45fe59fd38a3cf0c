"""On-disk cache of every judge call, so a rerun of the same judging costs nothing.

The key is a hash of (judge model, rubric version, the rendered messages — which hold the request and
the responses —, seed, decoding settings). SQLite in WAL mode, one committed row per call: a kill at any
moment loses at most the call in flight, and several processes can share one cache file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CachedReply:
    text: str
    tokens: int


def cache_key(model: str, rubric_version: str, messages: list[dict[str, str]], seed: int,
              settings: dict[str, Any]) -> str:
    blob = json.dumps([model, rubric_version, messages, seed, settings], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class JudgeCache:
    """get/put judge replies by key; `hits` and `misses` count lookups of this session.

    Any thread may use it (the verify stage runs a verifier in a thread of its own, see `executors.local`); one call
    at a time goes to the connection."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, model TEXT, rubric TEXT, "
            "reply TEXT NOT NULL, tokens INTEGER NOT NULL, created REAL NOT NULL)"
        )
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> CachedReply | None:
        with self._lock:
            row = self._db.execute("SELECT reply, tokens FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return CachedReply(row[0], row[1])

    def put(self, key: str, reply: str, tokens: int, model: str = "", rubric: str = "") -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, model, rubric, reply, tokens, created) VALUES (?, ?, ?, ?, ?, ?)",
                (key, model, rubric, reply, tokens, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
