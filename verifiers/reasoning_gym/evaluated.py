"""Answers that a task's scorer would run as code are checked before the scorer sees them.

Several reasoning-gym scorers evaluate the model's answer as code in the scoring process:
Python's `eval` (to accept a Python list as an answer) or sympy's `parse_expr`, which also
calls `eval`. An answer such as `__import__('os').system(...)` would run there, outside any
sandbox, and `9**9**9**9` would hang it. `EVALUATING` lists those tasks (found by reading
every scorer of reasoning-gym 0.1.25); for them an answer reaches the scorer only when it is
plain data or arithmetic.

Implementation details:
  1. An answer is parsed with `ast` exactly as `eval` would read it. Allowed: number and
     string literals, lists, tuples, names, `+ - * / // % ** ^` and unary signs, and calls of
     the functions in `FUNCTIONS` by name with positional arguments. Refused: attribute access,
     subscripts, any other call, comprehensions, lambdas, comparisons, f-strings, keywords.
  2. Sizes: at most 2000 characters, 200 nodes, integer literals of at most 30 digits, a
     power's exponent must be a name or a number of magnitude at most 100 (optionally signed
     or a fraction of two), and powers nest at most two deep (`(x**2 + 1)**3` passes,
     `9**9**9` does not). Strings and containers may not be operands of arithmetic, so
     `'a' * 10**9` and `[0] * 10**9` are refused.
  3. `eval` tasks: text that is not a Python expression passes (eval fails on it before
     running anything). `sympy` tasks: it is refused, because sympy rewrites some such text
     (`x!`, `0.[3]`, `lambda`) into code before evaluating it.
"""

from __future__ import annotations

import ast
from typing import Literal

Evaluator = Literal["eval", "sympy"]

EVALUATING: dict[str, Evaluator] = {
    "binary_matrix": "eval",
    "n_queens": "eval",
    "spiral_matrix": "eval",
    "string_insertion": "eval",
    "countdown": "sympy",
    "intermediate_integration": "sympy",
    "polynomial_multiplication": "sympy",
    "puzzle24": "sympy",
    "simple_integration": "sympy",
}
"""Task name -> how its scorer (reasoning-gym 0.1.25) evaluates the answer."""

FUNCTIONS = frozenset(
    {"sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "sinh", "cosh", "tanh"}
    | {"asinh", "acosh", "atanh", "exp", "log", "ln", "sqrt", "erf", "Abs", "abs", "Integral"}
)
"""Functions an evaluated answer may call (integration answers use them; a gold answer sympy
could not integrate is written `Integral(f, x)`)."""

_MAX_CHARS = 2000
_MAX_NODES = 200
_MAX_DIGITS = 30
_MAX_EXPONENT = 100
_MAX_POWER_DEPTH = 2
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitXor)
_SIGNS = (ast.UAdd, ast.USub)
_OPERATORS = (*_ARITHMETIC, *_SIGNS)


def refusal(task: str, answer: str) -> str | None:
    """Why `answer` must not reach the scorer of `task`, or None when it may.

    >>> refusal("countdown", "25 * 4 - (3 + 1)") is None
    True
    >>> refusal("string_insertion", "__import__('os').getcwd()")
    'answer would run as code in the scorer: call of an attribute'
    >>> refusal("basic_arithmetic", "__import__('os').getcwd()") is None
    True
    """
    evaluator = EVALUATING.get(task)
    if evaluator is None:
        return None
    if len(answer) > _MAX_CHARS:
        return f"answer over {_MAX_CHARS} characters for a scorer that evaluates it"
    try:
        tree = ast.parse(answer.lstrip(" \t"), mode="eval")
    except (SyntaxError, ValueError):
        return None if evaluator == "eval" else "not an expression its sympy scorer can read"
    except (RecursionError, MemoryError):
        return "answer nested too deep to check"
    problem = _problem(tree)
    return None if problem is None else f"answer would run as code in the scorer: {problem}"


def _problem(tree: ast.Expression) -> str | None:
    nodes = list(ast.walk(tree))
    if len(nodes) > _MAX_NODES:
        return f"over {_MAX_NODES} syntax nodes"
    for node in nodes:
        problem = _node_problem(node)
        if problem is not None:
            return problem
    return _power_problem(tree.body, 0)


def _node_problem(node: ast.AST) -> str | None:
    if isinstance(node, ast.Expression | ast.Load | ast.Name | ast.List | ast.Tuple):
        return None
    if isinstance(node, _OPERATORS):
        return None
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or value is None or isinstance(value, float | str):
            return None
        if isinstance(value, int):
            return None if len(str(abs(value))) <= _MAX_DIGITS else "an integer too long"
        return f"a {type(value).__name__} literal"
    if isinstance(node, ast.BinOp):
        if not (_numeric(node.left) and _numeric(node.right)):
            return "arithmetic on a string or a container"
        return None
    if isinstance(node, ast.UnaryOp):
        return None if _numeric(node.operand) else "a sign on a string or a container"
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            return "call of an attribute" if isinstance(node.func, ast.Attribute) else "a call"
        if node.func.id not in FUNCTIONS or node.keywords:
            return f"call of {node.func.id}"
        return None if all(_numeric(arg) for arg in node.args) else "a call on a container"
    return f"{type(node).__name__.lower()} syntax"


def _numeric(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int | float) and not isinstance(node.value, bool)
    return isinstance(node, ast.Name | ast.BinOp | ast.UnaryOp | ast.Call)


def _power_problem(node: ast.AST, depth: int) -> str | None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow | ast.BitXor):
        if depth + 1 > _MAX_POWER_DEPTH:
            return "powers nested too deep"
        if not _small_exponent(node.right):
            return "an exponent that is not a small number or a name"
        return _power_problem(node.left, depth + 1)
    for child in ast.iter_child_nodes(node):
        problem = _power_problem(child, depth)
        if problem is not None:
            return problem
    return None


def _small_exponent(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, _SIGNS):
        return _small_exponent(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _small_exponent(node.left) and _small_exponent(node.right)
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
        and abs(node.value) <= _MAX_EXPONENT
    )
