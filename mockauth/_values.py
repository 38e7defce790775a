"""What counts as a valid value where JSON and YAML enter the mock.

Every layer checks numbers and claim values the same way: these are the one spelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

MAX_DEPTH = 32


def is_number(value: Any) -> TypeGuard[float]:
    """A JSON number: not a bool (Python's bools are ints), not NaN (json.loads takes it)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def is_whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def describe(value: Any) -> str:
    """A value as an error message names it."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"{value!r}" if len(value) < 40 else "a long string"
    return f"a {type(value).__name__}"


def check_json(value: Any) -> None:
    """Raise ValueError unless `value` is made of JSON values, nested at most MAX_DEPTH deep
    (claims end up in a JWT)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise ValueError(f"keys must be strings, got {key!r}")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif not (item is None or isinstance(item, (str, int, float, bool))):
            raise ValueError(f"{describe(item)} is not a JSON value")
