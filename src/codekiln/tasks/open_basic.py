"""The built-in `open-basic` suite: open coding instructions judged on the five preferences.

Written for this project in the style of CODAL-Bench (each instruction targets one preference, stored in
`meta.preference`, and is judged on it). 22 instructions per preference, 110 in all; every third one is in
the test split (35 test, 75 train), so the two splits share no instruction.
"""

from __future__ import annotations

from codekiln.records import Task

INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    "instruction-following": (
        "Write a Python function `count_vowels(text: str) -> int` that counts the vowels a, e, i, o, u in a "
        "string, ignoring case. Do not use regular expressions.",
        "Write a Python function `chunk(items: list, size: int) -> list[list]` that splits a list into chunks of "
        "length `size`; the last chunk may be shorter. Raise ValueError when size is less than 1.",
        "In Python, write a function `is_leap_year(year: int) -> bool`. Use only arithmetic and boolean "
        "operators: no imports and no calendar module.",
        "Write a SQL query that returns the names of customers who placed more than three orders, given tables "
        "customers(id, name) and orders(id, customer_id). Sort the names alphabetically.",
        "Write a Python function `flatten(nested: list) -> list` that flattens a list nested to any depth. It "
        "must be recursive and must not modify its argument.",
        "Write a Bash one-liner that prints the 5 largest files in the current folder with their sizes in a "
        "human-readable form. Only one line, no script.",
        "Write a Python class `Stack` with methods push, pop and peek, and a property `size`. pop and peek on an "
        "empty stack must raise IndexError with the message 'empty stack'.",
        "Write a JavaScript function `capitalizeWords(s)` that upper-cases the first letter of every word and "
        "leaves the other letters unchanged. Use ES6 syntax.",
        "Write a Python function `parse_kv(text: str) -> dict[str, str]` that parses lines of the form "
        "`key=value`, skips blank lines and lines starting with '#', and strips spaces around keys and values.",
        "Write a Python function that returns the second largest distinct number in a list of integers, or "
        "None when there is no such number. Name it `second_largest`.",
        "Write a Python generator `fibonacci(limit: int)` that yields Fibonacci numbers strictly below `limit`, "
        "starting 0, 1. Include type hints and no other output.",
        "Write a Python function `rename_keys(d: dict, mapping: dict) -> dict` that returns a new dictionary "
        "whose keys are renamed by `mapping`; keys not in the mapping stay as they are.",
        "Write a regular expression in Python that matches dates in the format YYYY-MM-DD where the month is "
        "01-12 and the day 01-31, and show it used with re.fullmatch on two examples.",
        "Write a Python function `merge_sorted(a: list[int], b: list[int]) -> list[int]` that merges two sorted "
        "lists into one sorted list in linear time without calling sort or sorted.",
        "Write a Python function `word_frequencies(text: str, top: int) -> list[tuple[str, int]]` returning the "
        "`top` most frequent lower-cased words, ties broken alphabetically.",
        "Write a C function `int sum_array(const int *values, size_t n)` that returns the sum of an array. "
        "Reply with the function only, no main.",
        "Write a Python function `clamp(value, low, high)` that limits a number to a range. If low is greater "
        "than high, raise ValueError. Write two doctest examples in its docstring.",
        "Write a Python dataclass `Point` with float fields x and y, and a method `distance_to(other)` returning "
        "the Euclidean distance. Use math.hypot.",
        "Write a Python function `safe_divide(a: float, b: float) -> float | None` that returns None instead of "
        "raising when b is zero. Keep it to at most five lines.",
        "Write a Python script that reads a CSV file named `scores.csv` with columns name and score and prints "
        "the average score with two decimals. Use only the csv module.",
        "Write a Python function `rotate(items: list, k: int) -> list` that rotates a list to the right by k "
        "positions; k may be larger than the length or negative.",
        "Write a Python function `to_snake_case(name: str) -> str` that converts CamelCase and camelCase "
        "identifiers to snake_case, e.g. 'HTTPServerError' -> 'http_server_error'.",
    ),
    "explanation": (
        "Explain what this Python code does and why it works: `squares = {n: n * n for n in range(5)}`.",
        "Write a Python function that checks whether a string is a palindrome, ignoring case and punctuation, "
        "and explain each step of your solution.",
        "Explain the difference between a list and a tuple in Python, with a short code example of when to "
        "use each.",
        "Write a binary search in Python and explain why its running time is logarithmic.",
        "Explain what a Python decorator is by writing a decorator `timed` that prints how long a function "
        "took, and walk through how it wraps the function.",
        "Explain what this SQL query computes: `SELECT dept, AVG(salary) FROM staff GROUP BY dept HAVING "
        "COUNT(*) > 5;`",
        "Write a Python function that removes duplicates from a list while keeping the first occurrence order, "
        "and explain why you chose the data structures you used.",
        "Explain how recursion works using a recursive factorial function in Python, including what happens on "
        "the call stack for factorial(3).",
        "Explain the purpose of `if __name__ == \"__main__\":` in a Python file with a small example.",
        "Write a Python context manager with contextlib that temporarily changes the working folder, and "
        "explain how the with statement calls it.",
        "Explain the mutable default argument pitfall in Python (`def add(x, items=[])`), show the surprising "
        "behaviour and the usual fix.",
        "Write JavaScript code that fetches JSON from a URL with async/await and handles errors, then explain "
        "the role of each keyword.",
        "Explain what a hash map is and implement a tiny one in Python with separate chaining (put and get "
        "only), commenting on collisions.",
        "Explain this regular expression and give two strings it matches and one it does not: "
        "`^[A-Z][a-z]+\\d{2,}$`.",
        "Write a Python generator that reads a large file line by line and yields non-empty lines, and explain "
        "why a generator saves memory here.",
        "Explain the difference between `==` and `is` in Python with examples, including a case with small "
        "integers or None.",
        "Implement bubble sort in Python and explain, step by step, how the list [3, 1, 2] is sorted.",
        "Explain what Big-O notation means and give the complexity of three Python operations: list append, "
        "`x in list` and `x in set`.",
        "Write a Python class with `__eq__` and `__hash__` so that instances can be used in a set, and explain "
        "why both methods are needed.",
        "Explain how Python's `with open(path) as f:` closes the file even when an exception is raised.",
        "Write a function that validates an e-mail address loosely with a regular expression and explain the "
        "limits of validating e-mail addresses this way.",
        "Explain what this code prints and why: `a = [[0] * 2] * 2; a[0][0] = 1; print(a)`.",
    ),
    "complexity": (
        "Write an efficient Python function that returns True if any two numbers in a list sum to a target. "
        "State its time complexity.",
        "Write a Python function that finds the first non-repeating character in a string in linear time.",
        "Given a list of n integers, return the length of the longest strictly increasing contiguous run. Aim "
        "for O(n) time and O(1) extra space.",
        "Write a Python function that returns the k most common elements of a list efficiently, using the "
        "standard library.",
        "Compute the n-th Fibonacci number in Python for n up to 10**5 without recursion-depth errors and "
        "without exponential time.",
        "Write a Python function that checks whether two strings are anagrams of each other in linear time.",
        "Write a Python function that returns all prime numbers below n using the sieve of Eratosthenes.",
        "Write a Python function that merges overlapping intervals given as a list of (start, end) pairs, as "
        "efficiently as possible.",
        "Given a sorted list of integers, remove duplicates in place and return the new length, using O(1) "
        "extra memory.",
        "Write a Python function that finds the maximum sum of any contiguous sub-list (Kadane's algorithm) and "
        "give its complexity.",
        "Write an efficient Python function that counts how many times each word appears in a large text file "
        "without loading the whole file into memory.",
        "Write a Python function that returns the intersection of two large lists of integers, keeping "
        "duplicates as many times as they appear in both.",
        "Implement a Python LRU cache class with get and put in O(1) time each.",
        "Write a Python function that checks whether a string of brackets ()[]{} is balanced, in one pass.",
        "Write a Python function that returns the median of a list without sorting the whole list more than "
        "needed; discuss the trade-off against simply sorting.",
        "Write an efficient Python function that rotates an n x n matrix by 90 degrees clockwise in place.",
        "Write a Python function that computes x to the power n (integer n >= 0) in O(log n) multiplications.",
        "Write a Python function that finds the longest substring without repeating characters in O(n) time.",
        "Given a list of stock prices by day, return the best profit from one buy followed by one sell, in a "
        "single pass.",
        "Write an SQL query that returns each customer's most recent order from orders(id, customer_id, "
        "placed_at), efficiently, and say which index helps it.",
        "Write a Python function that returns True if a number is a perfect square without floating point and "
        "in O(log n) steps.",
        "Write a Python function that groups a list of words into anagram groups efficiently.",
    ),
    "readability": (
        "Write a readable Python function that converts a temperature between Celsius and Fahrenheit depending "
        "on a `to` argument.",
        "Refactor this Python code to be easy to read: "
        "`def f(l):\n r=[]\n for i in l:\n  if i%2==0 and i>0: r.append(i*i)\n return r`",
        "Write a readable Python function that computes a student's letter grade (A-F) from a numeric score.",
        "Write clear Python code that reads a JSON config file and returns its `database.host` value, or a "
        "default when it is missing.",
        "Write a readable Python function that validates a password: at least 8 characters, one digit, one "
        "upper-case letter and one symbol; return the list of rules it breaks.",
        "Rewrite this nested loop in a readable way: "
        "`for i in range(len(a)):\n for j in range(len(b)):\n  if a[i]==b[j]: print(i,j)`",
        "Write a readable Python function that formats a duration given in seconds as '1h 02m 05s'.",
        "Write a well-structured Python script that counts lines, words and characters of a text file, like "
        "the wc tool.",
        "Write readable Python code for a simple bank account class with deposit, withdraw and balance, "
        "refusing overdrafts.",
        "Make this function readable, keeping its behaviour: `def g(s): return ''.join([c for c in s if c not "
        "in 'aeiouAEIOU'])[::-1]`",
        "Write a readable Python function that returns the day of the week name for a date string "
        "'YYYY-MM-DD'.",
        "Write a clear Python function that splits a full name into first, middle and last names, handling "
        "names with one or two parts.",
        "Write readable Python code that sorts a list of dictionaries describing books by author and then by "
        "year.",
        "Refactor this code into small well-named functions: a script that loads numbers from a file, filters "
        "the negative ones, and prints their mean and maximum.",
        "Write a readable Python function that checks whether a Sudoku row, column or 3x3 box list of 9 "
        "numbers is valid.",
        "Write a readable JavaScript function that builds a query string from an object, skipping null and "
        "undefined values.",
        "Write readable Python code that computes the total price of a shopping cart with a percentage "
        "discount code and a tax rate.",
        "Write a readable Python function that returns True when a year, month and day form a valid calendar "
        "date, without using the datetime module.",
        "Write a clear Python implementation of the game rock-paper-scissors deciding the winner of one round.",
        "Improve the naming and structure of this code: `def p(x):\n a=0\n for b in x: a+=b[1]*b[2]\n "
        "return a`, where x holds (name, price, quantity) tuples.",
        "Write a readable Python function that masks all but the last four digits of a credit card number.",
        "Write readable Python code that parses a log line like '2024-05-01 12:00:03 ERROR disk full' into a "
        "dictionary with date, time, level and message.",
    ),
    "style": (
        "Write an idiomatic Python function that returns the squares of the even numbers in a list.",
        "Write idiomatic Python that iterates over two lists in parallel and prints pairs, and over a list "
        "with indices.",
        "Write an idiomatic Python function that reads a text file and returns its non-empty lines stripped of "
        "whitespace.",
        "Write a Python function following PEP 8 that returns a dictionary counting the characters of a string.",
        "Rewrite this in idiomatic Python: `i = 0\nwhile i < len(names):\n  print(names[i])\n  i = i + 1`",
        "Write an idiomatic Python class representing a 2D vector with addition, scalar multiplication and a "
        "readable repr.",
        "Write idiomatic Python that merges two dictionaries, with values from the second winning.",
        "Write an idiomatic JavaScript function that returns the unique values of an array.",
        "Write a Pythonic function that returns the longest word of a sentence, the first one on ties.",
        "Write idiomatic Python that swaps two variables and unpacks a tuple of three values.",
        "Rewrite in idiomatic Python: `result = []\nfor k in d.keys():\n  if d[k] != None:\n    "
        "result.append(k)`",
        "Write a Python function with type hints and a docstring in PEP 257 style that returns the factorial "
        "of n.",
        "Write an idiomatic Python enumeration for traffic light colours and a function returning the next "
        "colour.",
        "Write idiomatic Python that opens two files and copies lines containing 'ERROR' from one to the "
        "other.",
        "Write idiomatic Python error handling for converting user input to an integer, asking again on bad "
        "input.",
        "Write an idiomatic Go function that reverses a slice of ints in place.",
        "Rewrite with idiomatic Python: `if x == True: return True\nelse: return False`",
        "Write a Python function that groups people (name, city) by city using collections idioms.",
        "Write an idiomatic Python property-based class `Temperature` that stores Celsius and exposes "
        "Fahrenheit as a computed property with a setter.",
        "Write a Pythonic one-function solution that returns the transpose of a matrix given as a list of "
        "lists.",
        "Write idiomatic Python that formats a table of names and scores with f-strings, names left-aligned "
        "and scores right-aligned.",
        "Write an idiomatic Rust function that returns the sum of the even numbers in a slice of i64.",
    ),
}

SHORT = {"instruction-following": "if", "explanation": "expl", "complexity": "cplx", "readability": "read",
         "style": "style"}


def load() -> list[Task]:
    tasks = []
    for preference, prompts in INSTRUCTIONS.items():
        for index, prompt in enumerate(prompts):
            tasks.append(Task(
                task_id=f"open-basic/{SHORT[preference]}-{index:02d}",
                kind="open",
                prompt=prompt,
                split="test" if index % 3 == 2 else "train",
                meta={"preference": preference},
            ))
    return tasks
