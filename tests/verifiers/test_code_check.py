"""The `code` verifier's `check` references (HumanEval's form) and its all-or-nothing option."""

from __future__ import annotations

import pytest

import sandboxes
from tests.sandboxes.conftest import require_bwrap
from verifiers import Verdict
from verifiers.code import CodeVerifier
from verifiers.code.check import STOP, parse_check, program_for
from verifiers.code.examples import EXAMPLES

PROMPT = (
    "import math\n\n\ndef poly(xs, x):\n"
    "    return sum(c * math.pow(x, i) for i, c in enumerate(xs))"
    '\n\n\ndef root(xs):\n    """A zero of the linear polynomial xs."""\n'
)
CHECK = {
    "kind": "check",
    "entry_point": "root",
    "prefix": PROMPT,
    "tests": (
        "METADATA = {}\n\n\ndef check(candidate):\n    import random\n"
        "    rng = random.Random(0)\n    for _ in range(20):\n"
        "        xs = [rng.randint(-9, 9), rng.choice([-3, -2, -1, 1, 2, 3])]\n"
        "        assert abs(poly(xs, candidate(list(xs)))) < 1e-6\n"
        "    assert root([2, 1]) == -2.0\n"
    ),
}
RIGHT = "    return -xs[0] / xs[1]\n"


@pytest.fixture(params=["bwrap", "process"])
def verifier(request: pytest.FixtureRequest) -> CodeVerifier:
    """The verifier on each local backend that passes its probe; bwrap must where it can."""
    name: sandboxes.BackendName = request.param
    if name == "bwrap":
        require_bwrap()
    reason = sandboxes.probe(name)
    if reason is not None:
        pytest.skip(f"{name} backend unavailable here: {reason}")
    return CodeVerifier(timeout_s=1.0, backend=name)


def score(verifier: CodeVerifier, completion: str, reference: object = CHECK) -> Verdict:
    return verifier(completion, reference=reference)


def test_a_continuation_and_a_whole_function_pass(verifier: CodeVerifier) -> None:
    assert score(verifier, RIGHT + "\n\nprint(root([1, 1]))\n").reason == "correct"
    whole = f"```python\n{PROMPT}    return -xs[0] / xs[1]\n```"
    program = PROMPT + PROMPT + RIGHT  # the prefix, then the fenced program
    assert score(verifier, whole) == Verdict(1.0, "correct", "1/1 tests passed", program)


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ("    return xs[0] / xs[1]\n", "tests_failed"),
        ("    return None\n", "runtime_error"),  # poly(xs, None) raises in the tests
        ("    raise ValueError('no')\n", "runtime_error"),
        ("    return (\n", "runtime_error"),
        ("    while True:\n        pass\n", "timeout"),
        ("", "no_code"),
    ],
)
def test_wrong_broken_and_slow_programs_score_zero(
    verifier: CodeVerifier, completion: str, reason: str
) -> None:
    verdict = score(verifier, completion)
    assert (verdict.score, verdict.reason) == (0.0, reason), verdict


@pytest.mark.parametrize(
    "completion",
    [
        # an object equal to everything, and a float subclass that is close to everything
        "    class Any:\n        def __eq__(self, o):\n            return True\n"
        "        def __lt__(self, o):\n            return True\n"
        "        def __abs__(self):\n            return 0\n    return Any()\n",
        "    class F(float):\n        def __abs__(self):\n            return 0.0\n"
        "    return F(7)\n",
        # the prompt's helper redefined, builtins and modules patched
        "```python\ndef poly(xs, x):\n    return 0\n\ndef root(xs):\n    return 0.0\n```",
        "```python\nimport builtins, math\nbuiltins.abs = lambda x: 0\nmath.pow = lambda *a: 0\n"
        "def root(xs):\n    return 0.0\n```",
        # a module shadowing the one the tests import, written to the work directory
        "```python\nimport os\nwith open(os.path.join(os.path.dirname(__file__), 'random.py'),"
        " 'w') as f:\n    f.write('raise SystemExit(0)')\ndef root(xs):\n    return 0.0\n```",
        # exits, forged reports
        "```python\nimport os\nos._exit(0)\n```",
        "```python\nimport sys\ndef root(xs):\n    sys.exit(0)\n```",
        "```python\nimport os\nfor fd in range(3, 64):\n    try:\n"
        "        os.write(fd, (8).to_bytes(8, 'big') + b\"{'v': 1}\" * 9)\n"
        "    except OSError:\n        pass\ndef root(xs):\n    return 0.0\n```",
    ],
)
def test_attempts_to_fake_a_pass_score_zero(verifier: CodeVerifier, completion: str) -> None:
    assert score(verifier, completion).score == 0.0


def test_tests_that_never_call_the_candidate_fail(verifier: CodeVerifier) -> None:
    lazy = {**CHECK, "tests": "def check(candidate):\n    assert True\n"}
    verdict = score(verifier, RIGHT, lazy)
    assert (verdict.score, verdict.reason) == (0.0, "runtime_error")
    assert "never called" in verdict.detail


def test_candidate_exceptions_reach_the_tests_by_type(verifier: CodeVerifier) -> None:
    expects = {
        **CHECK,
        "tests": "def check(candidate):\n    try:\n        candidate([1, 0])\n"
        "    except ZeroDivisionError:\n        return\n    assert False\n",
    }
    assert score(verifier, RIGHT, expects).reason == "correct"
    assert score(verifier, "    return 0.0\n", expects).reason == "tests_failed"


@pytest.mark.parametrize(
    ("reference", "needle"),
    [
        ({**CHECK, "tests": "def test(candidate):\n    pass\n"}, "check(candidate)"),
        ({**CHECK, "entry_point": "not a name"}, "entry_point"),
        ({**CHECK, "tests": "def check(:"}, "do not parse"),
        ({**CHECK, "prefix": 3}, "source text"),
        ({**CHECK, "stop": [""]}, "stop"),
    ],
)
def test_bad_check_references_are_reference_errors(reference: object, needle: str) -> None:
    verdict = CodeVerifier()(RIGHT, reference=reference)
    assert (verdict.score, verdict.reason) == (0.0, "reference_error")
    assert needle in verdict.detail


def test_a_raw_continuation_stops_at_the_first_stop_string() -> None:
    ref = parse_check(CHECK)
    assert ref.stop == STOP
    tail = "\n\ndef main():\n    pass\n\nif __name__ == '__main__':\n    main()\n"
    assert program_for(RIGHT + tail, ref) == PROMPT + RIGHT
    assert program_for("```python\nx = 1\n\ndef f():\n    pass\n```", ref).endswith("pass\n")
    custom = parse_check({**CHECK, "stop": ["\nEND"]})
    assert program_for("    return 1\nEND\n    return 2\n", custom) == PROMPT + "    return 1\n"


def test_check_examples_hold() -> None:
    verifier = CodeVerifier(timeout_s=1.0)
    for example in EXAMPLES:
        if example.reference.get("kind") != "check":
            continue
        verdict = verifier(example.completion, reference=example.reference)
        assert (verdict.score, verdict.reason) == (example.score, example.reason), example


SQUARE = {
    "kind": "asserts",
    "tests": "assert square(2) == 4\nassert square(-3) == 9\nassert square(0) == 0\n",
    "entry_point": "square",
}


@pytest.mark.parametrize(
    ("source", "partial", "all_or_nothing"),
    [
        ("def square(x):\n    return x * x", 1.0, 1.0),
        ("def square(x):\n    return x + x", 2 / 3, 0.0),
        ("def square(x):\n    return 9", 1 / 3, 0.0),
        ("def square(x):\n    return -1", 0.0, 0.0),
    ],
)
def test_all_or_nothing_scores_only_a_full_pass(
    source: str, partial: float, all_or_nothing: float
) -> None:
    completion = f"```python\n{source}\n```"
    default = CodeVerifier()(completion, reference=SQUARE)
    strict = CodeVerifier(partial_credit=False)(completion, reference=SQUARE)
    assert default.score == pytest.approx(partial)
    assert strict.score == all_or_nothing
    assert (strict.reason, strict.detail) == (default.reason, default.detail)


def test_partial_credit_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="partial_credit"):
        CodeVerifier(partial_credit="no")  # type: ignore[arg-type]
