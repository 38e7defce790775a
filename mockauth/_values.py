"""What counts as a valid value where JSON, YAML and text enter the mock.

Every layer checks numbers, text and claim values the same way: these are the one
spelling. Python's ``json`` module takes more than JSON (``NaN``, ``Infinity``) and
reads JSON into values the mock cannot use (``1e400`` as infinity, ``"\\ud800"`` as a
lone surrogate that no UTF-8 answer can carry); ``int()`` and ``str.isdigit()`` take
more than ASCII digits (``"²"``, ``"٣"``, ``"1_0"``). A value the mock would later fail
to encode, compare or store is refused where it is read, with these checks.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

MAX_DEPTH = 32
# The largest whole number a query parameter may be (64 bits, as openapi.yaml says).
MAX_INTEGER = 2**63 - 1


def is_number(value: Any) -> TypeGuard[float]:
    """A JSON number: not a bool (Python's bools are ints), not NaN or an infinity
    (``json.loads`` takes them; JSON has no such numbers)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def is_whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_text(value: Any) -> TypeGuard[str]:
    """A string that UTF-8 can carry: no lone surrogates (JSON's ``"\\ud800"``)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def describe(value: Any) -> str:
    """A value as an error message names it."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        if not is_text(value):
            return "text that is not valid Unicode (a lone surrogate)"
        return f"{value!r}" if len(value) < 40 else "a long string"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        shown = repr(value)
        return f"the number {shown}" if len(shown) < 40 else "a long number"
    return _KINDS.get(type(value), f"a {type(value).__name__}")


# How a value read from YAML or JSON is named in an error (a user wrote a list, not a "list").
_KINDS: dict[type, str] = {list: "a list", dict: "a mapping", bytes: "bytes"}


def check_json(value: Any, max_depth: int | None = MAX_DEPTH) -> None:
    """Raise ValueError unless `value` is made of JSON values (finite numbers, text UTF-8
    can carry), nested at most `max_depth` deep (claims end up in a JWT)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if max_depth is not None and depth > max_depth:
            raise ValueError(f"nested deeper than {max_depth} levels")
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not is_text(key):
                    raise ValueError(f"keys must be strings, got {describe(key)}")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if not is_text(item):
                raise ValueError(f"{describe(item)} is not a JSON value")
        elif not (item is None or isinstance(item, bool) or is_number(item)):
            shown = item if isinstance(item, float) else describe(item)
            raise ValueError(f"{shown} is not a JSON value")


def _short(number: str) -> str:
    text = str(number)
    return text if len(text) < 30 else f"{text[:12]}... ({len(text)} digits)"


class DuplicateKey(ValueError):
    """A JSON object names one key twice."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(f"the field {key!r} appears more than once")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_MAX_DIGITS = 4000  # Python's int() refuses more than 4300, with a message about sys


def _readable_int(text: str) -> int:
    if len(text) > _MAX_DIGITS:
        raise ValueError(f"the number {_short(text)} has more digits than the mock reads ({_MAX_DIGITS})")
    return int(text)


def parse_json(data: bytes | str) -> Any:
    """A JSON document (RFC 8259): ValueError, with a message fit for an error answer,
    for what ``json.loads`` takes but JSON is not (NaN, Infinity), a key twice, nesting
    past the interpreter's limit, or a number too long to read. Bytes must be UTF-8
    (UnicodeDecodeError, a ValueError, otherwise).

    Some JSON still holds values the mock cannot use: ``1e400`` (read as infinity),
    ``2**100``, a lone surrogate (``"\\ud800"``). Those are refused where a value is
    read (is_text, is_number, check_json), so a field nobody reads may hold them."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
            parse_int=_readable_int,
        )
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON: {error}") from None


def printable(text: str) -> str:
    """`text` as UTF-8 can carry it: a lone surrogate becomes its backslash escape."""
    if text.isascii():  # nearly always: nothing to escape, and no copy to make
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_INTEGER = re.compile(r"-?[0-9]{1,19}")
_DECIMAL = re.compile(r"-?[0-9]{1,19}(\.[0-9]{1,19})?([eE][-+]?[0-9]{1,3})?")


def parse_integer(text: str) -> int:
    """A whole number written in ASCII digits with an optional leading '-', within 64
    bits; ValueError for anything else (``--5``, ``²``, ``1_0``, ``+5``, ``5.0``)."""
    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped) or abs(int(stripped)) > MAX_INTEGER:
        raise ValueError(f"expected a whole number, got {describe(text)}")
    return int(stripped)


def parse_decimal(text: str) -> float:
    """A finite number written as JSON writes one (``2``, ``0.5``, ``1e3``); ValueError
    for anything else (``nan``, ``inf``, ``1_0``, ``٣``)."""
    stripped = text.strip()
    if not _DECIMAL.fullmatch(stripped):
        raise ValueError(f"expected a number, got {describe(text)}")
    number = float(stripped)
    if not math.isfinite(number):
        raise ValueError(f"expected a number, got {describe(text)}")
    return number
