"""The reward function: correct, wrong and hostile answers in TRL's two completion formats, partial credit,
unknown tasks, concurrent and async callers, and the verl adapter. Every answer is checked in the real sandbox."""

from __future__ import annotations

import asyncio
import threading

import pytest

from codekiln.errors import UserError
from codekiln.records import Task
from codekiln.rewards import reward_function
from codekiln.rewards.function import completion_text

ADD = Task(task_id="add", kind="python", prompt='def add(a, b):\n    """Return a plus b."""\n', entry_point="add",
           test="def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n"
                "    assert candidate(-1, 1) == 0\n    assert candidate(10, 5) == 15\n",
           reference="    return a + b\n", split="train")
SQL = Task(task_id="q", kind="sql", prompt="How many rows does t have?", split="train",
           schema="CREATE TABLE t(x INTEGER);", rows="INSERT INTO t VALUES (1), (2), (3);",
           reference="SELECT COUNT(*) FROM t;")

RIGHT = "```python\ndef add(a, b):\n    return a + b\n```"
WRONG = "```python\ndef add(a, b):\n    return a - b\n```"
HOSTILE = {
    "exit": "```python\nimport sys\nsys.exit(0)\n```",
    "always_equal": "```python\nclass E:\n    def __eq__(self, other):\n        return True\n"
                    "def add(a, b):\n    return E()\n```",
    "patched_builtins": "```python\nimport builtins\nbuiltins.AssertionError = type('X', (Exception,), {})\n"
                        "def add(a, b):\n    return None\n```",
    "hang": "```python\ndef add(a, b):\n    while True:\n        pass\n```",
}


@pytest.fixture(scope="module")
def reward():
    with reward_function([ADD, SQL], workers=2, timeout_s=3.0) as fn:
        yield fn


def test_correct_and_wrong_answers_in_both_formats(reward):
    as_text = reward(prompts=["p"] * 2, completions=[RIGHT, WRONG], task_id=["add", "add"])
    as_chat = reward(prompts=[[{"role": "user", "content": "p"}]] * 2,
                     completions=[[{"role": "assistant", "content": RIGHT}], [{"role": "assistant", "content": WRONG}]],
                     task_id=["add", "add"])
    assert as_text == as_chat == [1.0, 0.0]


def test_code_is_extracted_the_way_the_sampler_does(reward):
    plain_function = "Here it is:\ndef add(a, b):\n    return a + b\n\nDone."
    prefilled_body = "def add(a, b):\n    return b + a\n```\nmore words"
    assert reward(completions=[plain_function, prefilled_body], task_id=["add", "add"],
                  prefill=["", "```python\n"]) == [1.0, 1.0]


@pytest.mark.parametrize("trick", sorted(HOSTILE))
def test_hostile_answers_get_zero_not_an_exception(reward, trick):
    assert reward(completions=[HOSTILE[trick], RIGHT], task_id=["add", "add"]) == [0.0, 1.0]


def test_sql_reward_and_mixed_kinds_keep_their_order(reward):
    got = reward(completions=["```sql\nSELECT COUNT(*) FROM t;\n```", RIGHT, "```sql\nSELECT 2;\n```", WRONG],
                 task_id=["q", "add", "q", "add"])
    assert got == [1.0, 1.0, 0.0, 0.0]


def test_partial_credit_pays_the_calls_that_passed_before_the_first_failure():
    # right on (1, 2) and (0, 0), wrong from (-1, 1) on: 2 of 4 calls passed
    half = "```python\ndef add(a, b):\n    return a + b if a >= 0 else 7\n```"
    with reward_function([ADD], workers=1, partial_credit=True) as fn:
        assert fn(completions=[half, RIGHT, HOSTILE["exit"]], task_id=["add"] * 3) == [0.5, 1.0, 0.0]
    with reward_function([ADD], workers=1) as fn:
        assert fn(completions=[half], task_id=["add"]) == [0.0]


def test_unknown_or_missing_task_id_is_a_clear_error(reward):
    with pytest.raises(UserError, match="task_id 'nope' is not among"):
        reward(completions=[RIGHT], task_id=["nope"])
    with pytest.raises(UserError, match="needs a `task_id` column"):
        reward(completions=[RIGHT])
    with pytest.raises(UserError, match="not a message dict"):
        completion_text([["nested"]])


def test_concurrent_threads_and_async_callers_get_their_own_rewards(reward):
    results: dict[int, list[float]] = {}

    def call(i: int) -> None:
        answers = [RIGHT, WRONG] if i % 2 else [WRONG, RIGHT]
        results[i] = reward(completions=answers, task_id=["add", "add"])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: ([1.0, 0.0] if i % 2 else [0.0, 1.0]) for i in range(4)}

    async def both():
        return await asyncio.gather(reward.acall(completions=[RIGHT], task_id=["add"]),
                                    reward.acall(completions=[WRONG], task_id=["add"]))

    assert asyncio.run(both()) == [[1.0], [0.0]]


def test_suite_name_resolves_tasks():
    with reward_function("python-basic:train", workers=1) as fn:
        task = next(iter(fn.tasks.values()))
        assert fn(completions=[f"```python\n{task.prompt}{task.reference}\n```"], task_id=[task.task_id]) == [1.0]


def test_verl_adapter_single_and_batch(tmp_path, monkeypatch):
    from codekiln.records import write_jsonl
    from codekiln.rewards import verl

    tasks = tmp_path / "tasks.jsonl"
    write_jsonl(tasks, [ADD])
    assert verl.compute_score("codekiln", RIGHT, "add", tasks=str(tasks)) == 1.0
    assert verl.compute_score("codekiln", WRONG, None, {"task_id": "add"}, tasks=str(tasks)) == 0.0
    monkeypatch.setenv("CODEKILN_REWARD_TASKS", str(tasks))
    assert verl.compute_score_batch(["x", "x"], [WRONG, RIGHT], ["add", "add"], [None, None]) == [0.0, 1.0]
    monkeypatch.delenv("CODEKILN_REWARD_TASKS")
    with pytest.raises(UserError, match="needs its tasks"):
        verl.compute_score(None, RIGHT, "add")
