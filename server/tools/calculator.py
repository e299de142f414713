"""The calculator tool: arithmetic read as a Python expression tree and walked by hand.

Nothing is evaluated by Python itself: only numbers, the arithmetic operators and a fixed table
of constants and functions are known. Every result is bounded (integers by their digits, powers
by an estimate of theirs before they are computed, factorial by its argument), so an expression
such as ``9**9**9`` is refused at once instead of holding the event loop.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from .registry import ToolFailure

MAX_LENGTH = 500  # characters of an expression
MAX_DIGITS = 1000  # decimal digits of an integer result, intermediate ones included
MAX_FACTORIAL = 1000

Number = int | float

_LOG10_2 = math.log10(2)

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}

_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


class _TooLarge(Exception):
    """A result (or what it would be) beyond the bounds."""


def _digits(value: int) -> float:
    return value.bit_length() * _LOG10_2


def _power(base: Number, exponent: Number) -> Number:
    # The estimate is cheap; the power itself could take minutes and gigabytes.
    whole = isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
    if whole and exponent * math.log10(abs(base)) > MAX_DIGITS:
        raise _TooLarge
    result = base**exponent
    if isinstance(result, complex):
        raise ValueError("the result is a complex number")
    return result


def _integer(value: Number, what: str) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{what} takes a whole number, got {_format(value)}")
        return int(value)
    return value


def _factorial(value: Number) -> int:
    n = _integer(value, "factorial")
    if n > MAX_FACTORIAL:
        raise _TooLarge
    return math.factorial(n)


def _log(value: Number, base: Number | None = None) -> float:
    return math.log(value) if base is None else math.log(value, base)


def _round(value: Number, digits: Number | None = None) -> Number:
    return round(value) if digits is None else round(value, _integer(digits, "round's digits"))


def _floor(value: Number) -> int:
    return math.floor(value)


def _ceil(value: Number) -> int:
    return math.ceil(value)


def _min(*values: Number) -> Number:
    return min(values)


def _max(*values: Number) -> Number:
    return max(values)


# name -> (function, fewest arguments, most arguments (None: any number))
_FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int | None]] = {
    "sqrt": (math.sqrt, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "asin": (math.asin, 1, 1),
    "acos": (math.acos, 1, 1),
    "atan": (math.atan, 1, 1),
    "log": (_log, 1, 2),
    "log10": (math.log10, 1, 1),
    "log2": (math.log2, 1, 1),
    "exp": (math.exp, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "floor": (_floor, 1, 1),
    "ceil": (_ceil, 1, 1),
    "min": (_min, 1, None),
    "max": (_max, 1, None),
    "factorial": (_factorial, 1, 1),
}


def _checked(value: Number) -> Number:
    if isinstance(value, int):
        if _digits(value) > MAX_DIGITS:
            raise _TooLarge
    elif not math.isfinite(value):
        raise _TooLarge
    return value


def _evaluate(node: ast.AST) -> Number:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant):
        # bool is an int to Python, not a number to anyone asking a calculator.
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return _checked(node.value)
        raise ValueError(f"{node.value!r} is not a number")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        value = _evaluate(node.operand)
        return value if isinstance(node.op, ast.UAdd) else -value
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            return _checked(_power(left, right))
        if isinstance(node.op, ast.BitXor):
            raise ValueError("^ is not a power here; write ** (2**10)")
        function = _BINARY.get(type(node.op))
        if function is None:
            raise ValueError(f"the operator {_source(node)!r} is not supported")
        return _checked(function(left, right))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if node.id in _FUNCTIONS:
            raise ValueError(f"{node.id} is a function; call it like {node.id}(…)")
        raise ValueError(f"unknown name {node.id!r} (constants: {', '.join(_CONSTANTS)})")
    if isinstance(node, ast.Call):
        return _call(node)
    raise ValueError(f"{_source(node)!r} is not arithmetic")


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        known = ", ".join(_FUNCTIONS)
        raise ValueError(f"unknown function {_source(node.func)!r} (functions: {known})")
    name = node.func.id
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise ValueError(f"{name} takes plain arguments only")
    function, fewest, most = _FUNCTIONS[name]
    count = len(node.args)
    if count < fewest or (most is not None and count > most):
        wanted = str(fewest) if fewest == most else f"{fewest} or {most}" if most else f"at least {fewest}"
        raise ValueError(f"{name} takes {wanted} argument{'' if wanted.endswith('1') else 's'}, got {count}")
    return _checked(function(*(_evaluate(arg) for arg in node.args)))


def _source(node: ast.AST) -> str:
    return ast.unparse(node)


def _format(value: Number) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def evaluate(expression: str) -> str:
    """The value of ``expression``, formatted; ToolFailure says why there is none."""
    quoted = repr(expression)
    if len(expression) > MAX_LENGTH:
        raise ToolFailure(f"the expression is {len(expression)} characters long; the limit is {MAX_LENGTH}")
    if not expression.strip():
        raise ToolFailure("the expression is empty")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise ToolFailure(f"{quoted} is not an arithmetic expression ({error.msg})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ToolFailure(f"{quoted} is nested too deeply") from None
    try:
        return _format(_evaluate(tree))
    except ZeroDivisionError:
        raise ToolFailure(f"division by zero in {quoted}") from None
    except (_TooLarge, OverflowError):
        raise ToolFailure(
            f"the result of {quoted} is too large (over {MAX_DIGITS} digits or out of range)"
        ) from None
    except RecursionError:
        raise ToolFailure(f"{quoted} is nested too deeply") from None
    except ValueError as error:
        message = str(error)
        if message == "math domain error":
            message = "a function got a value outside its domain"
        raise ToolFailure(f"{message} in {quoted}") from None
    except TypeError as error:
        raise ToolFailure(f"{error} in {quoted}") from None


async def calculator(
    expression: Annotated[
        str,
        Field(
            description="Arithmetic such as '2**10 / 3' or 'sqrt(2) * sin(pi / 4)': + - * / // % **, "
            "parentheses, pi e tau, sqrt sin cos tan asin acos atan log (x, optional base) log10 "
            "log2 exp abs round floor ceil min max factorial."
        ),
    ],
) -> str:
    """Evaluate an arithmetic expression exactly (whole numbers of any size up to 1000 digits)
    and give its value. Use it rather than working sums out by hand."""
    return evaluate(expression)
