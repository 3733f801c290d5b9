"""The password policy for local accounts (issue 12).

A new password (``user add``, ``user reset-password``, the Users page) is refused when:

- it is shorter than ``MIN_LENGTH`` (12) or longer than ``MAX_LENGTH`` characters, or only
  spaces;
- it is the username, or contains it (case ignored);
- it is on the list of common and breached passwords that ships with the maintained
  ``zxcvbn`` package (``zxcvbn.frequency_lists``: the 30,000 most frequent passwords of
  public breach corpora), case ignored;
- zxcvbn (Dropbox's strength estimator: dictionaries, keyboard walks, repeats, sequences,
  dates, l33t) scores it below the setting ``password_min_strength`` (default 3), with the
  username, display name and e-mail as words an attacker would try first.

NIST SP 800-63B-4 §3.1.1.2 asks for exactly this kind of check ("passwords obtained from
previous breach corpora", "dictionary words", "repetitive or sequential characters",
"context-specific words, such as the name of the service, the username") instead of
composition rules. Every refusal names what is wrong, in words a person can act on.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

MIN_LENGTH = 12
MAX_LENGTH = 256
# zxcvbn's matching is quadratic in the length; it refuses more than this by default.
# Beyond it only the first ZXCVBN_MAX characters are scored (a longer password is at
# least as strong as its start).
ZXCVBN_MAX = 72

STRENGTH_WORDS = {0: "very easy to guess", 1: "easy to guess", 2: "guessable",
                  3: "hard to guess", 4: "very hard to guess"}


class PasswordRefused(ValueError):
    """The password does not meet the policy; the message says why."""


@lru_cache(maxsize=1)
def breached() -> frozenset[str]:
    """zxcvbn's list of common passwords (from public breach corpora), lower case."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def _context_words(username: str | None, extra: Iterable[Any]) -> list[str]:
    words = []
    for value in (username, *extra):
        text = str(value or "").strip().lower()
        if not text:
            continue
        words.append(text)
        if "@" in text:
            words.append(text.split("@", 1)[0])
        words.extend(w for w in text.replace("@", " ").replace(".", " ").replace("_", " ")
                     .replace("-", " ").split() if len(w) >= 3)
    return words


def check(password: Any, username: str | None = None, *, min_strength: int = 3,
          context: Iterable[Any] = ()) -> str:
    """Return ``password`` if the policy accepts it, else raise ``PasswordRefused``."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise PasswordRefused(
            f"password is too short: it must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        raise PasswordRefused(f"password is too long: at most {MAX_LENGTH} characters")
    if not password.strip():
        raise PasswordRefused("password must not be only spaces")
    lowered = password.lower()
    name = (username or "").strip().lower()
    if name and lowered.strip() == name:
        raise PasswordRefused("password must not be the username")
    if name and name in lowered:
        raise PasswordRefused("password must not contain the username")
    if lowered in breached() or lowered.strip() in breached():
        raise PasswordRefused("password is on the list of common and breached passwords: "
                              "choose another")
    from zxcvbn import zxcvbn
    result = zxcvbn(password[:ZXCVBN_MAX], user_inputs=_context_words(name, context),
                    max_length=ZXCVBN_MAX)
    score = int(result["score"])
    if score < min_strength:
        warning = (result.get("feedback") or {}).get("warning") or ""
        hint = f" ({warning.rstrip('.')})" if warning else ""
        raise PasswordRefused(
            f"password is {STRENGTH_WORDS.get(score, 'too weak')}{hint}: use a longer one, "
            "e.g. a few unrelated words")
    return password
