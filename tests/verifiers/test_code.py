"""The `code` verifier: correct, wrong, partial, slow and crashing programs, and attempts to fake
passing, against every sandbox backend that works here."""

from __future__ import annotations

import os
import pickle
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest

import sandboxes
from tests.sandboxes.conftest import require_bwrap
from verifiers import Verdict, get
from verifiers.code import CodeVerifier, extract_program, parse_asserts
from verifiers.code.attacks import INTROSPECTION

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
    """A verifier on each local backend that passes its probe (docker: see tests/sandboxes);
    bwrap must pass wherever the machine supports it."""
    name: sandboxes.BackendName = request.param
    if name == "bwrap":
        require_bwrap()
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
        ("def square(x):\n    return bytearray(8 * 1024 ** 3)", SQUARE, 0.0, "memory_limit"),
        ("import os\ndef square(x):\n    os.abort()", SQUARE, 0.0, "crashed"),
        ("a, b = map(int, input().split())\nprint(a + b)", ADDER, 1.0, "correct"),
        ("a, b = map(int, input().split())\nprint(a + b, '   ')\nprint()", ADDER, 1.0, "correct"),
        ("a, b = map(int, input().split())\nprint(a * b)", ADDER, 0.0, "tests_failed"),
        ("a, b = map(int, input().split())\nprint(abs(a) + b)", ADDER, 2 / 3, "tests_failed"),
        ("a, b = map(int, input().split())\nprint(a + b)\nexit(1)", ADDER, 0.0, "runtime_error"),
        ("while True:\n    pass", ADDER, 0.0, "timeout"),
        ("b = bytearray(8 * 1024 ** 3)", ADDER, 0.0, "memory_limit"),
        ("print('x' * 2 ** 21)", ADDER, 0.0, "output_limit"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", ADDER, 0.0, "crashed"),
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
        "crashes",
        "stdio-correct",
        "stdio-whitespace",
        "stdio-wrong",
        "stdio-partial",
        "stdio-exit-1",
        "stdio-hangs",
        "stdio-memory",
        "stdio-output-flood",
        "stdio-crashes",
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


def _secret_square_reference() -> dict[str, str]:
    """Asserts on `square` with expected values drawn now, so no file on any disk holds them."""
    xs = random.sample(range(10**6, 10**7), 3)
    tests = f"assert square({xs[0]}) == {xs[0] ** 2}\nassert square({xs[1]}) == {xs[1] ** 2}\n"
    tests += f"assert abs(square({xs[2]}) - {xs[2] ** 2}) < 1e-9\n"
    return {"kind": "asserts", "tests": tests, "entry_point": "square"}


def test_file_hunt_finds_answers_left_on_the_host_disk(tmp_path: Path) -> None:
    """The control of the file hunt: where a test's source does lie on a disk the program
    sees (the process backend shows the host's /tmp), the hunt reaches it within its budget,
    however crowded that disk, so its 0 elsewhere means nothing was there."""
    if sandboxes.probe("process") is not None:
        pytest.skip(f"process backend unavailable here: {sandboxes.probe('process')}")
    crowd = tmp_path / "crowd"
    crowd.mkdir()
    for i in range(20000):
        (crowd / f"f{i}").touch()
    reference = _secret_square_reference()
    with tempfile.NamedTemporaryFile("w", suffix=".py") as leak:
        leak.write(reference["tests"])
        leak.flush()
        os.chmod(leak.name, 0o644)  # world-readable, like a dataset with answers on disk
        verdict = check(CodeVerifier(timeout_s=3.0, backend="process"),
                        INTROSPECTION["files_on_disk"], reference)  # fmt: skip
    assert (verdict.score, verdict.reason) == (1.0, "correct"), verdict.detail


@pytest.mark.parametrize("attack", sorted(INTROSPECTION))
def test_introspection_finds_no_expected_value(verifier: CodeVerifier, attack: str) -> None:
    """The program searches its objects, frames, modules, files, descriptors and memory for
    `square(x) == expected`; it must find nothing, so it computes nothing and scores 0."""
    verifier = CodeVerifier(timeout_s=3.0, backend=verifier.backend)
    verdict = check(verifier, INTROSPECTION[attack], _secret_square_reference())
    assert (verdict.score, verdict.reason) == (0.0, "tests_failed"), verdict.detail


def test_a_test_cannot_see_later_tests(verifier: CodeVerifier) -> None:
    source = (
        "import gc\ndef probe(tag):\n    needle = ('later-input' + '-token').encode()\n"
        "    for obj in gc.get_objects():\n"
        "        items = obj.values() if isinstance(obj, dict) else obj\n"
        "        if isinstance(obj, (dict, list, tuple)):\n"
        "            for item in items:\n"
        "                if isinstance(item, bytes) and item is not needle and needle in item:\n"
        "                    return True\n    return False"
    )
    tests = "assert probe('now') is False\nassert probe('later-input-token') is True"
    verdict = check(verifier, source, {"kind": "asserts", "tests": tests, "entry_point": "probe"})
    assert (verdict.score, verdict.reason) == (1.0, "correct"), verdict.detail


MULTI = [
    ("x = square(3)\nassert x == 9", "square"),
    ("candidate = square\nassert candidate(3) == 9\nassert candidate(-2) in (4, 5)", "square"),
    ("def close(a, b):\n    return abs(a - b) < 1e-6\nassert close(square(1.5), 2.25)", "square"),
    ("y = square(2)\nassert square(y) == 16\nassert square(square(2)) == 16", "square"),
    ("a, b = square(2), 1\nassert a + b == 5\nassert not square(0)", "square"),
    ("args = (2, 3)\nassert power(*args) == 8\nassert power(2, e=4) == 16", "power"),
    (
        "class Box:\n    def __init__(self, v):\n        self.v = v\nWANT = 7\n"
        "assert unbox(Box(7)) == WANT\nassert unbox(Box([1, 2])) == [1, 2]",
        "unbox",
    ),
    (
        "WANTED = 9\nclass Box:\n    def __init__(self, WANTED):\n        self.v = WANTED\n"
        "assert unbox(Box(9)) == WANTED",
        "unbox",
    ),
]
PROGRAMS = {
    "square": "def square(x):\n    return x * x",
    "power": "def power(b, e=3):\n    return b ** e",
    "unbox": "def unbox(box):\n    return box.v",
}


@pytest.mark.parametrize(("tests", "entry"), MULTI)
def test_setup_aliases_helpers_and_objects_are_checked_outside(
    verifier: CodeVerifier, tests: str, entry: str
) -> None:
    reference = {"kind": "asserts", "tests": tests, "entry_point": entry}
    assert check(verifier, PROGRAMS[entry], reference).score == 1.0
    assert check(verifier, f"def {entry}(*a, **k):\n    return 0", reference).score < 1.0


@pytest.mark.parametrize(("tests", "entry"), MULTI)
def test_nothing_of_the_expected_side_enters_the_sandbox(
    monkeypatch: pytest.MonkeyPatch, tests: str, entry: str
) -> None:
    """What goes into the sandbox (stdin and files) holds no assert and no expected value."""
    sent: list[Any] = []
    real_run = sandboxes.run

    def spy(code: str, **kwargs: Any) -> sandboxes.ExecResult:
        sent.append((kwargs["stdin"], kwargs["files"]))
        return real_run(code, **kwargs)

    monkeypatch.setattr(sandboxes, "run", spy)
    reference = {"kind": "asserts", "tests": tests, "entry_point": entry}
    assert CodeVerifier()(fenced(PROGRAMS[entry]), reference=reference).score == 1.0
    ((stdin, files),) = sent
    inside = stdin + b"".join(str(v).encode() for v in files.values())
    for forbidden in (b"assert ", b"== ", b" in (", b"WANT =", b"= 9", b"close(", b"2.25"):
        assert forbidden not in inside, forbidden


@pytest.mark.parametrize(
    "tests",
    [
        "assert all(double(i) == 2 * i for i in range(5))",
        "assert list(map(double, [1, 2])) == [2, 4]",
        "assert (lambda: double(2))() == 4",
        "def check(x, want):\n    return double(x) == want\nassert check(2, 4)",
        "for x in range(3):\n    assert double(x) == 2 * x\nassert double(1) == 2",
        "ok = double(2) == 4\nassert double(ok) == 2",
        "assert double(2) == 4\ndouble = None\nassert double",
    ],
    ids=["generator", "as-value", "lambda", "helper", "loop", "derived-argument", "rebound"],
)
def test_asserts_that_cannot_be_checked_outside_are_refused(
    monkeypatch: pytest.MonkeyPatch, tests: str
) -> None:
    """Such a reference is a reference error, and the program never runs (its tests would
    have to enter the sandbox whole)."""
    monkeypatch.setattr(sandboxes, "run", lambda *a, **k: pytest.fail("the program ran"))
    reference = {"kind": "asserts", "tests": tests, "entry_point": "double"}
    verdict = CodeVerifier()(fenced("def double(x):\n    return 2 * x"), reference=reference)
    assert verdict.reason == "reference_error"
    assert "cannot be checked outside the sandbox" in verdict.detail


@pytest.mark.parametrize(
    ("reference", "needle"),
    [
        ({"kind": "asserts", "tests": "assert f(1) ==", "entry_point": "f"}, "do not parse"),
        ({"kind": "asserts", "tests": "x = 1", "entry_point": "f"}, "no top-level assert"),
        ({"kind": "asserts", "tests": "assert f(1) == 1", "entry_point": "1f"}, "entry_point"),
        ({"kind": "stdio", "tests": []}, "non-empty list"),
        ({"kind": "stdio", "tests": [{"input": 1, "output": "x"}]}, "'input' must be a string"),
        ({"kind": "sql"}, "kind 'asserts', 'stdio' or 'check'"),
        ("not a mapping", "kind 'asserts', 'stdio' or 'check'"),
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
    reference = parse_asserts(
        "import math\nassert f(2) + 1 == math.floor(f(f(1)))\nhelper = f\nx = helper(1)\n"
        "assert helper(x)",
        "f",
    )
    first, second = reference.tests
    assert [reference.sites[i].call for i in first.sites] == ["f(2)", "f(f(1))"]
    assert [reference.sites[i].collect for i in first.sites] == ["__rlvr_args(2)", None]
    assert first.check == "__rlvr_value_0 + 1 == math.floor(__rlvr_value_1)"
    assert [reference.sites[i].call for i in second.sites] == ["helper(1)", "helper(x)"]
    assert [reference.sites[i].bind for i in second.sites] == ["x", None]
    assert reference.sites[second.sites[1]].setup == (2,)
    assert reference.statements[2] is not None and reference.statements[2].alias


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
