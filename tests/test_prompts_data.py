"""SQL and pandas prompts: the data shown compactly and unfenced, the reply prefix, and sampling/SFT agreement."""

from __future__ import annotations

from codekiln.config import SampleConfig
from codekiln.records import Task
from codekiln.sample.data_text import frame_literals, frames_text, schema_lines
from codekiln.sample.extract import extract_code
from codekiln.sample.generate import build_request
from codekiln.sample.prompts import build_messages, render_reply, reply_prefix, task_text

SCHEMA = ("CREATE TABLE owners (owner_id INTEGER PRIMARY KEY, name TEXT);\n"
          "CREATE TABLE pets (pet_id INTEGER PRIMARY KEY, name TEXT, owner_id INTEGER,\n"
          "  FOREIGN KEY (owner_id) REFERENCES owners(owner_id));")
SQL = Task("s1", "sql", "How many pets?", schema=SCHEMA, reference="SELECT COUNT(*) FROM pets", split="test")
SETUP = ("import numpy as np\nimport pandas as pd\n\n"
         "df = pd.DataFrame({\n    'name': ['Ann', 'Bo', 'Cy'],\n    'age': [31, np.nan, -4],\n"
         "    'score': [1.5, 2.0, 3.25],\n    'ok': [True, False, True],\n})\n")
PANDAS = Task("d1", "pandas", "Compute the mean `age`.", setup=SETUP, result_name="result",
              reference="result = df['age'].mean()", split="test")


def test_schema_lines_lists_tables_columns_and_foreign_keys():
    assert schema_lines(SCHEMA) == ("owners(owner_id INTEGER, name TEXT)\npets(pet_id INTEGER, name TEXT, owner_id INTEGER)\n"
                                    "pets.owner_id -> owners.owner_id")


def test_schema_lines_runs_only_create_table_and_gives_up_on_broken_schemas(tmp_path):
    target = tmp_path / "x.db"
    hostile = f"ATTACH DATABASE '{target}' AS x;\nCREATE TABLE t (a INT);\nCREATE TABLE x.u (b INT);"
    assert schema_lines(hostile) is None  # the CREATE into the unattached schema fails: no partial listing
    assert not target.exists()
    assert schema_lines("CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1);") == "t(a INT)"
    assert schema_lines("CREATE TABLE (oops;") is None
    assert schema_lines("") is None


def test_sql_prompt_shows_the_schema_unfenced_and_the_question_last():
    text = task_text(SQL)
    assert "```" not in text and "CREATE TABLE" not in text
    assert text.startswith("Tables:\nowners(owner_id INTEGER, name TEXT)\n")
    assert text.endswith("\n\nQuestion: How many pets?")
    # A schema that cannot be read back is shown as it is, still without a fence.
    odd = Task("s2", "sql", "Q?", schema="CREATE TABLE (oops;", reference="SELECT 1")
    assert task_text(odd) == "Database schema:\nCREATE TABLE (oops;\n\nQuestion: Q?"
    messages = build_messages(SQL)  # a fixed worked example turn shows the answer's shape
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"].startswith("```sql\nSELECT ") and messages[-1]["content"].endswith(text)


def test_frames_are_read_without_running_the_setup():
    assert frame_literals(SETUP) == [("df", [("name", ["Ann", "Bo", "Cy"]), ("age", [31, None, -4]),
                                             ("score", [1.5, 2.0, 3.25]), ("ok", [True, False, True])])]
    text = frames_text(SETUP)
    assert text is not None
    assert "`df` is a pandas DataFrame with 3 rows" in text
    assert "- name (str), e.g. 'Ann', 'Bo'" in text and "- age (float with missing values), e.g. 31, NaN" in text
    assert "- score (float)" in text and "- ok (bool)" in text
    assert text.endswith("`pd` (pandas) and `np` (numpy) are imported and `df` already exists: do not create it again.")
    assert frame_literals("df = pd.read_csv('x.csv')") is None
    assert frame_literals("df = pd.DataFrame({'a': list(range(3))})") is None
    two = "import pandas as pd\na = pd.DataFrame({'k': [1]})\nb = pd.DataFrame({'k': [2]})\n"
    assert frames_text(two).endswith("`a` and `b` already exist: do not create them again.")


def test_pandas_prompt_and_prefix():
    text = task_text(PANDAS)
    assert "```" not in text and "pd.DataFrame" not in text
    assert text.endswith("Task: Compute the mean `age`.\nStore the answer in a variable named `result`.")
    assert reply_prefix(PANDAS) == "```python\nresult ="
    # Not plain literal inputs: the setup code is shown; unittest-style tasks keep the plain fence.
    other = Task("d2", "pandas", "Do it.", setup="df = make()", result_name="out", reference="out = 1")
    assert "```python\ndf = make()\n```" in task_text(other) and reply_prefix(other) == "```python\nout ="
    tested = Task("d3", "pandas", "def task_func(df): ...", test="class T: pass", entry_point="task_func")
    assert reply_prefix(tested) == "```python\n"
    assert reply_prefix(SQL) == "```sql\n"


def test_sampled_reply_extracts_to_code_whose_canonical_reply_is_the_sampled_text():
    # Sampling continues the prefix; the SFT row renders the extracted code; both must be the same conversation.
    for task, generated in ((PANDAS, " df['age'].mean()"), (SQL, "SELECT COUNT(*) FROM pets;")):
        request = build_request(task, 0, SampleConfig(), (), prefill_ok=True)
        assert request.prefill == reply_prefix(task) and request.messages == build_messages(task)
        raw = request.prefill + generated
        code = extract_code(task, raw)
        assert render_reply(task, code) == raw + "\n```"


def test_value_mode_pandas_gets_the_fixed_worked_example_unless_examples_are_given():
    roles = [m["role"] for m in build_messages(PANDAS)]
    assert roles == ["system", "user", "assistant", "user"]
    assert build_messages(PANDAS)[2]["content"].startswith("```python\nresult = ")
    shot = Task("d4", "pandas", "Count rows.", setup=SETUP, result_name="result", reference="result = len(df)")
    with_shot = build_messages(PANDAS, [shot])
    assert [m["role"] for m in with_shot] == ["system", "user", "assistant", "user"]
    assert with_shot[2]["content"] == "```python\nresult = len(df)\n```"
    sql_shot = Task("s3", "sql", "Count owners.", schema=SCHEMA, reference="SELECT COUNT(*) FROM owners")
    assert build_messages(SQL, [sql_shot])[2]["content"] == "```sql\nSELECT COUNT(*) FROM owners\n```"
    tested = Task("d3", "pandas", "def task_func(df): ...", test="class T: pass", entry_point="task_func")
    assert [m["role"] for m in build_messages(tested)] == ["system", "user"]
