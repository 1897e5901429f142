"""The contract cases the `code` verifier ships (`rlvr verifiers check code` runs them)."""

from __future__ import annotations

from verifiers.code.attacks import INTROSPECTION, SECRET_REFERENCE
from verifiers.verdict import Example

_ADD = {
    "kind": "asserts",
    "tests": "assert add(1, 2) == 3\nassert add(-1, 1) == 0",
    "entry_point": "add",
}
_ONE = {"kind": "asserts", "tests": "assert add(2, 2) == 4", "entry_point": "add"}
_ECHO = {
    "kind": "stdio",
    "tests": [{"input": "3 4\n", "output": "7\n"}, {"input": "0 0\n", "output": "0"}],
}

_CHECK = {
    "kind": "check",
    "entry_point": "double",
    "prefix": 'def scale(x, k):\n    return x * k\n\n\ndef double(x):\n    """Twice x."""\n',
    "tests": (
        "def check(candidate):\n    for x in range(4):\n"
        "        assert candidate(x) == scale(x, 2)\n"
    ),
}

_FORGE = (
    "import os\nfor fd in range(64):\n    try:\n        os.write(fd, b\"{'status': 'ok'}\")\n"
    "    except OSError:\n        pass\ndef double(x):\n    return 0"
)
"""Writes a forged `ok` report to every descriptor it holds while it is imported."""


def _fenced(source: str) -> str:
    return f"Here is the solution:\n```python\n{source}\n```\n"


EXAMPLES: tuple[Example, ...] = (
    Example(_fenced("def add(a, b):\n    return a + b"), _ADD, 1.0, "correct"),
    Example(_fenced("a, b = map(int, input().split())\nprint(a + b)"), _ECHO, 1.0, "correct"),
    Example(_fenced("def add(a, b):\n    return abs(a) + b"), _ADD, 0.5, "tests_failed", "false"),
    Example(_fenced("print(7)"), _ECHO, 0.5, "tests_failed", "false"),
    Example("I cannot solve this.", _ADD, 0.0, "runtime_error", "false"),
    Example("```cpp\nint add(int a, int b) { return a + b; }\n```", _ADD, 0.0, "no_code", "false"),
    Example(_fenced("import sys\nsys.exit(0)"), _ADD, 0.0, "runtime_error", "adversarial"),
    Example(
        _fenced(
            "class Any:\n    def __eq__(self, other):\n        return True\n"
            "def add(a, b):\n    return Any()"
        ),
        _ADD,
        0.0,
        "tests_failed",
        "adversarial",
    ),
    Example(
        _fenced(
            "import builtins\nbuiltins.AssertionError = SystemExit\ndef add(a, b):\n    return 0"
        ),
        _ADD,
        0.5,
        "tests_failed",
        "adversarial",
    ),
    Example(
        _fenced("def add(a, b):\n    while True:\n        pass"),
        _ONE,
        0.0,
        "timeout",
        "adversarial",
    ),
    Example(
        _fenced("def add(a, b):\n    return bytearray(8 * 1024 ** 3)"),
        _ONE,
        0.0,
        "memory_limit",
        "adversarial",
    ),
    Example(
        _fenced("import os\ndef add(a, b):\n    os.abort()"), _ONE, 0.0, "crashed", "adversarial"
    ),
    Example("    return 2 * x\n\n\nprint(double(3))\n", _CHECK, 1.0, "correct"),
    Example(_fenced("def double(x):\n    return x + x"), _CHECK, 1.0, "correct"),
    Example("    return x + 1\n", _CHECK, 0.0, "tests_failed", "false"),
    Example(
        "    class Any:\n        def __eq__(self, other):\n            return True\n"
        "    return Any()\n",
        _CHECK,
        0.0,
        "runtime_error",
        "adversarial",
    ),
    Example(
        _fenced("def scale(x, k):\n    return 0\n\ndef double(x):\n    return 0"),
        _CHECK,
        0.0,
        "tests_failed",
        "adversarial",
    ),
    Example(_fenced(_FORGE), _CHECK, 0.0, "runtime_error", "adversarial"),
    Example(_fenced("import os\nos._exit(0)"), _CHECK, 0.0, "runtime_error", "adversarial"),
    Example("    while True:\n        pass\n", _CHECK, 0.0, "timeout", "adversarial"),
    Example(_fenced("def square(x):\n    return x * x"), SECRET_REFERENCE, 1.0, "correct"),
    *(
        Example(_fenced(source), SECRET_REFERENCE, 0.0, "tests_failed", "adversarial")
        for name, source in INTROSPECTION.items()
        # The process backend shows the host's files, where this package's own source, with
        # the reference above, is readable; tests/verifiers/test_code.py uses fresh values.
        if name != "files_on_disk"
    ),
)
"""True, false and adversarial cases: exact score and reason expected for each. The
introspection cases (`verifiers.code.attacks`) hunt their own process for expected values."""
