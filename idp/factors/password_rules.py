"""What a new password must be, following NIST SP 800-63B §5.1.1.2 (memorized secrets).

- Length: at least the configured minimum (12 by default, never below 8), at most 256
  characters, counted in Unicode code points after NFKC normalisation (§5.1.1.2: "each Unicode
  code point SHALL be counted as a single character"; normalise before hashing).
- No composition rules (no "one digit, one symbol"); instead the password is refused when it is
  on a bundled list of the most common passwords (also after dropping trailing digits and
  symbols: ``Summer2024!`` is ``summer``), is one character repeated, a plain run such as
  ``abcdefghijkl`` or ``987654321098``, or contains the employee's own username or email
  address (context-specific words).

Input longer than the maximum is refused before it is normalised or hashed, so a 10 KB
"password" costs nothing.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from importlib import resources

from idp.directory.model import Employee
from idp.factors.password_errors import (
    PasswordMatchesIdentity,
    PasswordTooGuessable,
    PasswordTooLong,
    PasswordTooShort,
)

MAX_PASSWORD_LENGTH = 256
#: NIST SP 800-63B §5.1.1.2: at least 8 characters when the password is one factor of several
MIN_PASSWORD_LENGTH_FLOOR = 8
DEFAULT_MIN_PASSWORD_LENGTH = 12
# Shorter names are too likely to occur inside an unrelated password to refuse it for them.
_MIN_IDENTITY_LENGTH = 4
_TRAILING_DECORATION = re.compile(r"[\d\W_]+$")


def normalise_password(password: str) -> str:
    """NFKC of ``password``; refuses more than :data:`MAX_PASSWORD_LENGTH` characters.

    The raw length is checked first (NFKC of a huge input is work too), then the normalised
    one (a few compatibility characters expand).
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooLong(
            f"a password has at most {MAX_PASSWORD_LENGTH} characters; this one has {len(password)}"
        )
    normal = unicodedata.normalize("NFKC", password)
    if len(normal) > MAX_PASSWORD_LENGTH:
        raise PasswordTooLong(
            f"a password has at most {MAX_PASSWORD_LENGTH} characters once normalised; "
            f"this one has {len(normal)}"
        )
    return normal


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list (``password_common.txt``), case-folded."""
    text = resources.files("idp.factors").joinpath("password_common.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def _is_run(folded: str) -> bool:
    """One character repeated, or each character one code point above (or below) the last."""
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(folded)}
    return len(steps) == 1 and abs(next(iter(steps))) <= 1


def _identities(employee: Employee) -> tuple[tuple[str, str], ...]:
    email = employee.email.casefold()
    candidates = (
        ("your username", employee.username.casefold()),
        ("your email address", email),
        ("the name of your email address", email.partition("@")[0]),
    )
    return tuple((what, value) for what, value in candidates if len(value) >= _MIN_IDENTITY_LENGTH)


def check_new_password(*, password: str, employee: Employee, min_length: int) -> str:
    """The normalised password if it may be set for ``employee``; else the rule it breaks."""
    normal = normalise_password(password)
    if len(normal) < min_length:
        raise PasswordTooShort(
            f"a password needs at least {min_length} characters; this one has {len(normal)}"
        )
    folded = normal.casefold()
    common = common_passwords()
    if folded in common or _TRAILING_DECORATION.sub("", folded) in common:
        raise PasswordTooGuessable(
            "this is one of the most commonly used passwords (or one with digits or symbols "
            "added at the end); choose a longer phrase of your own"
        )
    if _is_run(folded):
        raise PasswordTooGuessable(
            "a password that repeats one character or runs in sequence (like 'abcdef…' or "
            "'123456…') is guessed at once; choose a phrase of your own"
        )
    for what, value in _identities(employee):
        if value in folded:
            raise PasswordMatchesIdentity(f"a password must not contain {what}")
    return normal
