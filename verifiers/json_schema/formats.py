"""The `format` values this verifier asserts, checked with the standard library only.

`jsonschema`'s own checks for several formats depend on optional packages, so the same schema
would pass or fail depending on what happens to be installed. This module defines each check
itself and `format_checker` builds a `FormatChecker` holding exactly these:

- `date`: RFC 3339 `full-date`, a real calendar day (`2023-02-29` fails).
- `date-time`: RFC 3339 `date-time`: `T` (or `t`) separator, seconds required, fraction
  optional, a `Z` or `+hh:mm` offset required. `datetime.fromisoformat` is not used: it accepts
  a space separator, missing seconds and missing offsets. Second `60` is accepted only where the
  time is 23:59 UTC (a leap second).
- `email`: RFC 5321 mailbox: a dot-atom or quoted local part of at most 64 characters, then a
  host name, `[IPv4]` or `[IPv6:...]` literal. ASCII only (`idn-email` is not asserted).
- `ipv4`: dotted quad without leading zeros; `ipv6`: RFC 4291 text form, no zone index.
- `uuid`: the RFC 4122 hyphenated hex form only (no braces, no `urn:uuid:` prefix).
- `regex` (only for checking schemas against their metaschema): compiles with the pattern
  engine of `verifiers.json_schema.patterns`.

Every other format is an annotation and is not asserted. Non-string instances pass every format.
"""

from __future__ import annotations

import datetime
import ipaddress
import re

from jsonschema import FormatChecker

from verifiers.json_schema.patterns import BadPattern, compile_pattern

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(
    r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf'{_ATOM}(?:\.{_ATOM})*|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"')
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def is_date(value: object) -> bool:
    """RFC 3339 `full-date`.

    >>> is_date("2024-02-29"), is_date("2023-02-29"), is_date("2024-2-9")
    (True, False, False)
    """
    if not isinstance(value, str):
        return True
    match = _DATE.fullmatch(value)
    if match is None:
        return False
    year, month, day = (int(part) for part in match.groups())
    try:
        datetime.date(year or 2000, month, day)
    except ValueError:
        return False
    return True


def is_date_time(value: object) -> bool:
    """RFC 3339 `date-time` with a mandatory offset.

    >>> is_date_time("1998-12-31T15:59:60.5-08:00"), is_date_time("2024-01-01 10:00:00Z")
    (True, False)
    """
    if not isinstance(value, str):
        return True
    date, separator, time = value.partition("T") if "T" in value else value.partition("t")
    match = _TIME.fullmatch(time)
    if not separator or match is None or not is_date(date):
        return False
    hour, minute, second = (int(part) for part in match.groups()[:3])
    sign, off_hour, off_minute = match.group(4), int(match.group(5) or 0), int(match.group(6) or 0)
    if hour > 23 or minute > 59 or second > 60 or off_hour > 23 or off_minute > 59:
        return False
    utc_minutes = hour * 60 + minute - (1 if sign == "+" else -1) * (off_hour * 60 + off_minute)
    return second < 60 or utc_minutes % 1440 == 23 * 60 + 59


def _is_ip_literal(literal: str) -> bool:
    if literal[:5].lower() == "ipv6:":
        return is_ipv6(literal[5:])
    return is_ipv4(literal)


def is_email(value: object) -> bool:
    """RFC 5321 mailbox, ASCII only.

    >>> is_email("joe.bloggs@example.com"), is_email('"joe bloggs"@[IPv6:::1]')
    (True, True)
    >>> is_email("joe..bloggs@example.com"), is_email("joe@-example.com")
    (False, False)
    """
    if not isinstance(value, str):
        return True
    local, at, domain = value.rpartition("@")
    if not at or len(local) > 64 or _LOCAL.fullmatch(local) is None:
        return False
    if domain.startswith("[") and domain.endswith("]"):
        return _is_ip_literal(domain[1:-1])
    return len(domain) <= 253 and _HOST.fullmatch(domain) is not None


def is_ipv4(value: object) -> bool:
    """Dotted-quad IPv4 address without leading zeros.

    >>> is_ipv4("192.168.0.1"), is_ipv4("192.168.00.1"), is_ipv4("256.1.1.1")
    (True, False, False)
    """
    if not isinstance(value, str):
        return True
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def is_ipv6(value: object) -> bool:
    """RFC 4291 IPv6 address text, without a zone index.

    >>> is_ipv6("::1"), is_ipv6("fe80::1%eth0"), is_ipv6("1:2:3:4:5:6:7:8:9")
    (True, False, False)
    """
    if not isinstance(value, str):
        return True
    if "%" in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def is_uuid(value: object) -> bool:
    """RFC 4122 hyphenated UUID.

    >>> is_uuid("123e4567-e89b-12d3-a456-426614174000"), is_uuid("123e4567e89b12d3a456426614174000")
    (True, False)
    """
    return not isinstance(value, str) or _UUID.fullmatch(value) is not None


def is_regex(value: object) -> bool:
    """A pattern the schema pattern engine compiles."""
    if not isinstance(value, str):
        return True
    try:
        compile_pattern(value)
    except BadPattern:
        return False
    return True


def format_checker(*, include_regex: bool = False) -> FormatChecker:
    """A `FormatChecker` asserting exactly the formats listed in the module docstring.

    Args:
        include_regex: Also assert `regex`, for checking a schema against its metaschema.
    """
    checker = FormatChecker(formats=())
    checks = {
        "date": is_date,
        "date-time": is_date_time,
        "email": is_email,
        "ipv4": is_ipv4,
        "ipv6": is_ipv6,
        "uuid": is_uuid,
    }
    if include_regex:
        checks["regex"] = is_regex
    for name, check in checks.items():
        checker.checks(name)(check)
    return checker


__all__ = [
    "format_checker",
    "is_date",
    "is_date_time",
    "is_email",
    "is_ipv4",
    "is_ipv6",
    "is_regex",
    "is_uuid",
]
