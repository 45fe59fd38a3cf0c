"""Chat prompts for tasks, and the canonical assistant reply for a program.

Sampling, curation (SFT rows, pairs) and training all build prompts here, so the model is trained on
exactly the conversation it is sampled with.
"""

from __future__ import annotations

from collections.abc import Sequence

from codekiln.records import Task
from codekiln.sample.data_text import frames_text, schema_lines

SYSTEM = "You are a careful programmer. Reply with one code block that solves the task."

INSTRUCTIONS = {
    "python": "Complete the following Python function. Return the whole function in a ```python code block.",
    "sql": "Write one SQLite query that answers the question. Return only the query in a ```sql code block.",
    "pandas": "Write Python code using pandas that computes the requested result. Return it in a ```python code block.",
    "html": "Write a complete, self-contained HTML page (inline CSS, optional inline JS, no external resources) "
    "for this UI. Return it in a ```html code block.",
    "open": "Answer the following coding request.",
}

FENCE = {"python": "python", "sql": "sql", "pandas": "python", "html": "html"}


def task_text(task: Task) -> str:
    """The user-visible statement of a task (per kind: the schema with the question, the setup with the request...)."""
    if task.kind == "python":
        return f"```python\n{task.prompt.rstrip()}\n```"
    if task.kind == "sql":
        schema = (task.schema or "").strip()
        tables = schema_lines(schema)
        shown = f"Tables:\n{tables}" if tables else f"Database schema:\n{schema}"
        return f"{shown}\n\nQuestion: {task.prompt.strip()}"
    if task.kind == "pandas" and value_mode(task) and (frames := frames_text(task.setup or "")):
        return f"{frames}\n\nTask: {task.prompt.strip()}\nStore the answer in a variable named `{task.result_name}`."
    if task.kind == "pandas":
        parts = [task.prompt.strip()]
        if task.setup:
            parts.append(f"The inputs are built by:\n```python\n{task.setup.strip()}\n```")
        if task.result_name:
            parts.append(f"Store the answer in a variable named `{task.result_name}`.")
        return "\n".join(parts)
    if task.kind == "html":
        return f"UI description: {(task.description or task.prompt).strip()}"
    return task.prompt.strip()


def render_reply(task: Task, code: str) -> str:
    """The canonical assistant reply for a program: the code in a fenced block (open tasks: the text as is)."""
    if task.kind == "open":
        return code
    return f"```{FENCE.get(task.kind, '')}\n{code.strip()}\n```"


def value_mode(task: Task) -> bool:
    """A pandas task judged by the value of a named result (not by unittest tests)."""
    return task.kind == "pandas" and bool(task.result_name) and not task.test


def reply_prefix(task: Task) -> str:
    """How a sampled reply starts (the prefill): the kind's opening fence; for a value-mode pandas task also
    `result =`, which keeps a small model from re-creating the inputs. It is part of the reply, so extraction
    and `render_reply` see the same text."""
    fence = f"```{FENCE.get(task.kind, '')}\n"
    if value_mode(task) and (task.result_name or "").isidentifier():
        return f"{fence}{task.result_name} ="
    return fence


def user_message(task: Task) -> str:
    return f"{INSTRUCTIONS[task.kind]}\n\n{task_text(task)}"


# Fixed worked examples, put before an sql task or a value-mode pandas task as an earlier turn when no examples
# are given: they show the answer's shape (one query over the listed tables; one `result = ...` line over an
# existing `df`). Measured on 60-120 train tasks with SmolLM2-135M: sql 15/120 with it vs 13/120 with the example
# inline in the instruction and ~2/60 with none; pandas 9/60 with it vs 1/60 inline and 2/60 with none.
WORKED_EXAMPLES = {
    "sql": (
        "Tables:\npets(pet_id INTEGER, name TEXT, kind TEXT, age INTEGER, owner_id INTEGER)\n"
        "owners(owner_id INTEGER, name TEXT, city TEXT)\npets.owner_id -> owners.owner_id\n\n"
        "Question: List the `name` of pets whose `kind` is 'cat' and whose `age` is above 3.",
        "SELECT name FROM pets WHERE kind = 'cat' AND age > 3;",
    ),
    "pandas": (
        "`df` is a pandas DataFrame with 5 rows and these columns:\n- name (str), e.g. 'Ann', 'Bo'\n"
        "- age (int), e.g. 31, 25\n- city (str), e.g. 'Rome', 'Oslo'\n"
        "`pd` (pandas) and `np` (numpy) are imported and `df` already exists: do not create it again.\n\n"
        "Task: Compute the mean `age` of the rows of `df` whose `city` is 'Rome', as a float.\n"
        "Store the answer in a variable named `result`.",
        "result = float(df.loc[df['city'] == 'Rome', 'age'].mean())",
    ),
}


def worked_example(task: Task) -> tuple[str, str] | None:
    """The fixed (user text, code) example shown before `task` when no examples are given, if its kind has one."""
    if task.kind == "sql" or (value_mode(task) and frames_text(task.setup or "")):
        return WORKED_EXAMPLES[task.kind]
    return None


def build_messages(task: Task, examples: Sequence[Task] = ()) -> list[dict[str, str]]:
    """System + (worked examples as earlier turns, using their reference) + the task, as chat messages."""
    messages = [{"role": "system", "content": SYSTEM}]
    fixed = None if examples else worked_example(task)
    if fixed is not None:
        messages.append({"role": "user", "content": f"{INSTRUCTIONS[task.kind]}\n\n{fixed[0]}"})
        messages.append({"role": "assistant", "content": render_reply(task, fixed[1])})
    for example in examples:
        if example.reference is None:
            continue
        messages.append({"role": "user", "content": user_message(example)})
        messages.append({"role": "assistant", "content": render_reply(example, reference_program(example))})
    messages.append({"role": "user", "content": user_message(task)})
    return messages


def reference_program(task: Task) -> str:
    """A task's reference as a complete program (HumanEval references are bodies: prepend the prompt)."""
    ref = task.reference or ""
    if task.kind == "python" and task.entry_point and f"def {task.entry_point}" not in ref:
        return task.prompt + ref
    return ref
