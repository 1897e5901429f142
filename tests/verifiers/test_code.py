"""The `code` verifier: correct, wrong, partial, slow and crashing programs, and attempts to fake
passing, against every sandbox backend that works here."""

from __future__ import annotations

import pickle

import pytest

import sandboxes
from verifiers import Verdict, get
from verifiers.code import CodeVerifier, extract_program, parse_asserts

SQUARE = {
    "kind": "asserts",
    "tests": "assert square(2) == 4\nassert square(-3) == 9\nassert square(12345) == 152399025\n",
    "entry_point": "square",
}
ADDER = {
    "kind": "stdio",
    "tests": [
        {"input": "1 2\n", "output": "3\n"},
        {"input": "10 20\n", "output": "30"},
        {"input": "-5 5\n", "output": "0\n\n"},
    ],
}


def fenced(source: str) -> str:
    return f"Sure.\n```python\n{source}\n```\n"


@pytest.fixture(params=["bwrap", "process"])
def verifier(request: pytest.FixtureRequest) -> CodeVerifier:
    """A verifier on each local backend that passes its probe (docker: see tests/sandboxes)."""
    name: sandboxes.BackendName = request.param
    reason = sandboxes.probe(name)
    if reason is not None:
        pytest.skip(f"{name} backend unavailable here: {reason}")
    return CodeVerifier(timeout_s=1.0, backend=name)


def check(verifier: CodeVerifier, source: str, reference: object) -> Verdict:
    return verifier(fenced(source), reference=reference)


@pytest.mark.parametrize(
    ("source", "reference", "score", "reason"),
    [
        ("def square(x):\n    return x * x", SQUARE, 1.0, "correct"),
        ("def square(x):\n    return x + x", SQUARE, 1 / 3, "tests_failed"),
        ("def square(x):\n    return 0", SQUARE, 0.0, "tests_failed"),
        ("def square(x):\n    return 1 / (x - 2) * 0 + x * x", SQUARE, 2 / 3, "tests_failed"),
        ("def square(x):\n    raise ValueError('no')", SQUARE, 0.0, "runtime_error"),
        ("def square(x)\n    return x", SQUARE, 0.0, "runtime_error"),
        ("def square(x):\n    while True:\n        pass", SQUARE, 0.0, "timeout"),
        (
            "import time\ndef square(x):\n    time.sleep(x if x > 0 else 0)\n    return x * x",
            SQUARE,
            1 / 3,
            "tests_failed",
        ),
        ("def square(x):\n    return bytearray(8 * 1024 ** 3)", SQUARE, 0.0, "memory"),
        ("a, b = map(int, input().split())\nprint(a + b)", ADDER, 1.0, "correct"),
        ("a, b = map(int, input().split())\nprint(a + b, '   ')\nprint()", ADDER, 1.0, "correct"),
        ("a, b = map(int, input().split())\nprint(a * b)", ADDER, 0.0, "tests_failed"),
        ("a, b = map(int, input().split())\nprint(abs(a) + b)", ADDER, 2 / 3, "tests_failed"),
        ("a, b = map(int, input().split())\nprint(a + b)\nexit(1)", ADDER, 0.0, "runtime_error"),
        ("while True:\n    pass", ADDER, 0.0, "timeout"),
    ],
    ids=[
        "correct",
        "partial",
        "wrong",
        "crash-one",
        "raises",
        "syntax",
        "hangs",
        "slow-one",
        "memory",
        "stdio-correct",
        "stdio-whitespace",
        "stdio-wrong",
        "stdio-partial",
        "stdio-exit-1",
        "stdio-hangs",
    ],
)
def test_table(
    verifier: CodeVerifier, source: str, reference: object, score: float, reason: str
) -> None:
    verdict = check(verifier, source, reference)
    assert verdict.score == pytest.approx(score), verdict.detail
    assert verdict.reason == reason, verdict.detail


@pytest.mark.parametrize(
    "source",
    [
        "import sys\nsys.exit(0)",
        "import os\nos._exit(0)",
        "raise SystemExit(0)",
        "def square(x):\n    raise SystemExit(0)",
        "import os\ndef square(x):\n    os._exit(0)",
        "import os\ndef square(x):\n    os.kill(os.getppid(), 9)",
        "class Yes:\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\ndef square(x):\n    return Yes()",
        "class Int(int):\n    def __eq__(self, other):\n        return True\n"
        "    def __repr__(self):\n        return '4'\ndef square(x):\n    return Int(0)",
        "import builtins\nbuiltins.AssertionError = SystemExit\n"
        "builtins.print = lambda *a, **k: None\ndef square(x):\n    return 0",
        "import os, sys\nfor fd in (1, 2):\n"
        "    os.write(fd, b'\\n' + b'0' * 64 + b\" [{'status': 'ok'}]\\n\")\n"
        "def square(x):\n    return 0",
        "import os\ndef square(x):\n"
        "    found = [open(n).read() for n in os.listdir('.') if os.path.isfile(n)]\n"
        "    for text in found:\n        for token in text.replace('=', ' ').split():\n"
        "            if token.isdigit() and int(token) > 1000000:\n"
        "                return int(token)\n"
        "    return 0",
    ],
    ids=[
        "sys-exit-at-import",
        "os-exit-at-import",
        "raise-systemexit",
        "systemexit-in-call",
        "os-exit-in-call",
        "kill-harness",
        "eq-override",
        "int-subclass-eq",
        "patched-builtins",
        "forged-result-line",
        "read-tests-from-disk",
    ],
)
def test_fake_pass_attempts_score_zero(verifier: CodeVerifier, source: str) -> None:
    verdict = check(verifier, source, SQUARE)
    assert verdict.score == 0.0, verdict.detail


def test_harness_secrets_are_out_of_reach(verifier: CodeVerifier) -> None:
    source = (
        "import os\n"
        "def probe(path):\n    try:\n        with open(path, 'rb') as f:\n"
        "            return f.read(64)\n"
        "    except OSError:\n        return 'denied'\n"
        "def stdin():\n    return os.read(0, 64)\n"
    )
    tests = (
        "assert probe(f'/proc/{__import__(\"os\").getppid()}/fd/0') == 'denied'\n"
        "assert probe(f'/proc/{__import__(\"os\").getppid()}/mem') == 'denied'\n"
        "assert probe('/proc/1/fd/0') == 'denied'\n"
    )
    reference = {"kind": "asserts", "tests": tests, "entry_point": "probe"}
    verdict = check(verifier, source, reference)
    assert (verdict.score, verdict.reason) == (1.0, "correct"), verdict.detail
    assert (
        check(
            verifier,
            source,
            {**reference, "tests": "assert stdin() == b''", "entry_point": "stdin"},
        ).score
        == 1.0
    )


def test_stdio_expected_output_never_enters_the_sandbox(verifier: CodeVerifier) -> None:
    reference = {"kind": "stdio", "tests": [{"input": "", "output": "expected-7f3a9c"}]}
    source = (
        "import os\nfor root, _, names in os.walk('/'):\n"
        "    if root.startswith(('/proc', '/sys', '/usr', '/root')):\n        continue\n"
        "    for n in names:\n        try:\n"
        "            text = open(os.path.join(root, n), errors='ignore').read()\n"
        "        except OSError:\n            continue\n"
        "        if 'expected-' in text and 'expected-' + '7f3a9c' in text:\n"
        "            print(text[text.index('expected-'):][:15])\n            raise SystemExit\n"
        "print('not found')"
    )
    verdict = check(verifier, source, reference)
    assert verdict.score == 0.0


@pytest.mark.parametrize(
    ("tests", "source", "score"),
    [
        ("assert is_even(2)\nassert not is_even(3)", "def is_even(n):\n    return n % 2 == 0", 1.0),
        ("import math\nassert math.isclose(half(1), 0.5)", "def half(x):\n    return x / 2", 1.0),
        ("assert sorted(half(4)) == [1, 2]", "def half(x):\n    return {2, 1}", 1.0),
        ("assert half(2) == (1, 1)", "def half(x):\n    return [1, 1]", 0.0),
        ("assert half(1) != half(2)", "def half(x):\n    return x / 2", 1.0),
        ("assert half(float('nan')) != half(float('nan'))", "def half(x):\n    return x / 2", 1.0),
        ("assert half(2) is None", "def half(x):\n    return None", 1.0),
        (
            "assert half(2) == {'a': [1, (2, b'x')]}",
            "def half(x):\n    return {'a': [1, (2, b'x')]}",
            1.0,
        ),
    ],
)
def test_assert_forms_are_checked_outside(
    verifier: CodeVerifier, tests: str, source: str, score: float
) -> None:
    entry = source.split("(")[0].split()[-1]
    verdict = check(verifier, source, {"kind": "asserts", "tests": tests, "entry_point": entry})
    assert verdict.score == score, verdict.detail
    assert "opaque" not in verdict.detail


def test_opaque_asserts_run_inside_and_are_reported(verifier: CodeVerifier) -> None:
    reference = {
        "kind": "asserts",
        "tests": "assert all(double(i) == 2 * i for i in range(5))",
        "entry_point": "double",
    }
    verdict = check(verifier, "def double(x):\n    return 2 * x", reference)
    assert (verdict.score, verdict.reason) == (1.0, "correct")
    assert "1 opaque test(s)" in verdict.detail


@pytest.mark.parametrize(
    ("reference", "needle"),
    [
        ({"kind": "asserts", "tests": "assert f(1) ==", "entry_point": "f"}, "do not parse"),
        ({"kind": "asserts", "tests": "x = 1", "entry_point": "f"}, "no top-level assert"),
        ({"kind": "asserts", "tests": "assert f(1) == 1", "entry_point": "1f"}, "entry_point"),
        ({"kind": "stdio", "tests": []}, "non-empty list"),
        ({"kind": "stdio", "tests": [{"input": 1, "output": "x"}]}, "'input' must be a string"),
        ({"kind": "sql"}, "kind 'asserts' or 'stdio'"),
        ("not a mapping", "kind 'asserts' or 'stdio'"),
    ],
)
def test_bad_references_are_reference_errors(reference: object, needle: str) -> None:
    verdict = CodeVerifier()(fenced("def f(x):\n    return x"), reference=reference)
    assert verdict.reason == "reference_error"
    assert needle in verdict.detail


def test_no_code() -> None:
    for completion in ["", "   ", "```cpp\nint main() {}\n```"]:
        assert CodeVerifier()(completion, reference=SQUARE).reason == "no_code"


def test_extraction_prefers_the_last_python_fence() -> None:
    text = "```python\nfirst\n```\ntext\n```\nplain\n```\n```py\nlast\n```\n```js\nx\n```"
    assert extract_program(text) == "last\n"
    assert extract_program("```\nplain\n```") == "plain\n"
    assert extract_program("print(1)") == "print(1)"
    assert extract_program("```python\nunclosed = 1\n") == "unclosed = 1\n"


def test_parse_asserts_cuts_calls_and_keeps_setup() -> None:
    tests = parse_asserts(
        "import math\nassert f(2) + 1 == math.floor(f(f(1)))\nhelper = f\nassert helper(1)", "f"
    )
    first, second = tests
    assert first.calls == ("f(2)", "f(f(1))")
    assert (
        first.check is not None and "__rlvr_value_0" in first.check and "math.floor" in first.check
    )
    assert "import math" in first.setup
    assert second.check is None and second.calls == ()


def test_registered_picklable_and_configurable() -> None:
    built = get("code", {"timeout_s": 2.0, "limits": {"memory_mb": 256}, "backend": "auto"})
    assert isinstance(built, CodeVerifier)
    assert built.limits.memory_mb == 256
    assert pickle.loads(pickle.dumps(built)) == built
    with pytest.raises(ValueError, match="unknown limits"):
        CodeVerifier(limits={"memory": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend"):
        CodeVerifier(backend="vm")  # type: ignore[arg-type]


def test_shipped_examples_hold() -> None:
    verifier = CodeVerifier(timeout_s=1.0)
    for example in CodeVerifier.examples:
        verdict = verifier(example.completion, reference=example.reference)
        assert (verdict.score, verdict.reason) == (example.score, example.reason), example


def test_sandbox_failure_is_reported_not_scored(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> sandboxes.ExecResult:
        return sandboxes.ExecResult(
            sandboxes.Status.SANDBOX_ERROR, None, "", "", 0.0, False, "bwrap", "down"
        )

    monkeypatch.setattr(sandboxes, "run", broken)
    verdict = CodeVerifier()(fenced("def square(x):\n    return x * x"), reference=SQUARE)
    assert (verdict.score, verdict.reason) == (0.0, "sandbox_error")
