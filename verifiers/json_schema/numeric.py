"""Exact number semantics for JSON Schema on `Decimal` instances.

Implementation details:
    1. `is_multiple_of` decides `multipleOf` exactly: `0.3` is a multiple of `0.1`,
       `0.30000000000000004` is not, and `1e999999` or a 100,000-digit integer is decided
       without building a million-digit number or converting through `int(str)` (whose digit
       limit raises, and whose conversion is quadratic).
    2. `integer_check` treats `1.0` as an integer from draft 6 on, as the specification says,
       and keeps drafts 3 and 4's "no fraction, no exponent" rule.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal


def _digits(value: Decimal) -> tuple[tuple[int, ...], int]:
    """Digits without trailing zeros, and the matching exponent, of a finite nonzero number."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"{value} is not a finite number")
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    return digits[:end], exponent + len(digits) - end


def is_multiple_of(value: Decimal | int, divisor: Decimal | int) -> bool:
    """Whether `value / divisor` is an integer, computed exactly. `divisor` must be positive.

    With `value = m * 10**e` and `divisor = d * 10**f` (m, d integers without trailing zeros)
    and `k = e - f`: when `k < 0` the answer is `d * 10**-k` divides `m`, which is false at once
    when `10**-k` exceeds `m`; when `k >= 0` it is `d` divides `m * 10**k`, and raising `k`
    beyond the exponents of 2 and 5 in `d` (at most `4 * len(d)`) changes nothing, so `k` is
    capped there. The remainder is then taken in a `decimal` context wide enough to be exact.

    >>> is_multiple_of(Decimal("0.3"), Decimal("0.1"))
    True
    >>> is_multiple_of(Decimal("0.30000000000000004"), Decimal("0.1"))
    False
    >>> is_multiple_of(Decimal("1e999999"), Decimal("0.25")), is_multiple_of(10**30, 7)
    (True, False)
    """
    value, divisor = Decimal(value), Decimal(divisor)
    if value.is_zero():
        return True
    if divisor <= 0:
        raise ValueError(f"multipleOf must be positive, got {divisor}")
    value_digits, value_exp = _digits(value)
    divisor_digits, divisor_exp = _digits(divisor)
    shift = value_exp - divisor_exp
    if shift >= 0:
        numerator = Decimal((0, value_digits, min(shift, 4 * len(divisor_digits) + 4)))
        denominator = Decimal((0, divisor_digits, 0))
    elif -shift >= len(value_digits):
        return False
    else:
        numerator = Decimal((0, value_digits, 0))
        denominator = Decimal((0, divisor_digits, -shift))
    precision = len(value_digits) + 5 * len(divisor_digits) + 16
    context = Context(prec=precision, Emax=MAX_EMAX, Emin=MIN_EMIN)
    return context.remainder(numerator, denominator).is_zero()


def integer_check(written_plain: bool) -> Callable[[object, object], bool]:
    """A `jsonschema` type check for `integer`.

    Args:
        written_plain: Drafts 3 and 4: only numbers written without fraction or exponent
            (`Decimal` exponent 0) are integers. Otherwise any integral value is (`1.0`, `1e3`).
    """

    def check(checker: object, instance: object) -> bool:
        if isinstance(instance, bool):
            return False
        if isinstance(instance, int):
            return True
        if isinstance(instance, float):
            return not written_plain and instance.is_integer()
        if not isinstance(instance, Decimal) or not instance.is_finite():
            return False
        _, digits, exponent = instance.as_tuple()
        if written_plain:
            return exponent == 0
        return isinstance(exponent, int) and (exponent >= 0 or not any(digits[exponent:]))

    return check


__all__ = ["integer_check", "is_multiple_of"]
