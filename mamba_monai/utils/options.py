"""Bundle options as users type them on the command line: ``--resume false`` arrives as the string ``'false'``.

``python -m monai.bundle run ... --resume false`` sets the config item to the *string* ``'false'``, which Python
treats as true. Every boolean or optional option of the bundles goes through :func:`as_bool` / :func:`as_optional`,
which accept the usual spellings and refuse anything else with a message naming the option.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TRUE_WORDS", "FALSE_WORDS", "NONE_WORDS", "as_bool", "as_optional", "as_int"]

TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "off"})
NONE_WORDS = frozenset({"none", "null", ""})


def as_bool(value: Any, option: str) -> bool:
    """``value`` as a boolean: True/False, 1/0, or a string true/false/yes/no/1/0/on/off in any case.

    Args:
        value: the option's value as the config holds it.
        option: the option's name, for the error message.

    Raises:
        ValueError: any other value (the message names the option and the accepted spellings).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(f"option '{option}' must be true or false (also accepted: yes/no, 1/0), got {value!r}")


def as_optional(value: Any, option: str) -> Any:
    """``None`` for None / ``"None"`` / ``"null"`` / ``""``, else ``value`` unchanged.

    Args:
        value: the option's value as the config holds it.
        option: the option's name (kept for symmetry with :func:`as_bool`; errors come from the caller's checks).
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
        return None
    return value


def as_int(value: Any, option: str, minimum: int | None = None) -> int:
    """``value`` as an int (``"8"`` from the command line included), at least ``minimum``.

    Args:
        value: the option's value.
        option: the option's name, for the error message.
        minimum: the smallest value accepted.

    Raises:
        ValueError: not a whole number, or below ``minimum`` (the message names the option).
    """
    if isinstance(value, bool):
        raise ValueError(f"option '{option}' must be a whole number, got {value!r}")
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise ValueError(f"option '{option}' must be a whole number, got {value!r}")
    if minimum is not None and number < minimum:
        raise ValueError(f"option '{option}' must be at least {minimum}, got {number}")
    return number
