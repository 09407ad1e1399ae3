"""Looking a name up in a fixed vocabulary the way a person types it.

One rule for every vocabulary a person names things from (landmarks, implant families):
the exact name wins; then the same name in any letter case; then a *unique* case-insensitive
prefix; an ambiguous prefix lists its candidates; anything else says what it may have meant
(:func:`difflib.get_close_matches`) instead of listing the whole vocabulary.

Examples
--------
>>> resolve_name("Pinnacle", ["Pinnacle Sector II", "Trident II"], what="cup family")
'Pinnacle Sector II'
>>> resolve_name("Pinacle", ["Pinnacle Sector II", "Trident II"], what="cup family")
Traceback (most recent call last):
...
orthoplan.names.NameLookupError: unknown cup family 'Pinacle'; did you mean 'Pinnacle Sector II'?
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

__all__ = ["NameLookupError", "close_matches", "resolve_name"]


class NameLookupError(LookupError):
    """A name that is not in the vocabulary, or a prefix of several names.

    ``candidates`` holds the names it may have meant (the close matches, or every name the
    ambiguous prefix starts); callers re-raise it as their stage's error with the same text.
    """

    def __init__(self, message: str, candidates: tuple[str, ...] = (), ambiguous: bool = False) -> None:
        super().__init__(message)
        self.candidates = candidates
        self.ambiguous = ambiguous


def _fold(text: str) -> str:
    return " ".join(str(text).replace("_", " ").replace("-", " ").casefold().split())


def close_matches(text: str, names: Iterable[str], n: int = 3, cutoff: float = 0.6) -> tuple[str, ...]:
    """The names of ``names`` closest to ``text`` (case, ``_``, ``-`` and spaces ignored), best first.

    A name is compared whole and by its first words as many as ``text`` has, so a misspelt
    beginning (``Pinacle`` for ``Pinnacle Sector II``) is found too.

    >>> close_matches("teardrop_lft", ["teardrop_left", "teardrop_right", "sourcil_medial_left"])
    ('teardrop_left', 'teardrop_right')
    >>> close_matches("Pinacle", ["Pinnacle Sector II", "Trident II"])
    ('Pinnacle Sector II',)
    """
    want = _fold(text)
    n_words = len(want.split())
    scores: dict[str, float] = {}
    for name in names:
        key = _fold(name)
        head = " ".join(key.split()[:n_words])
        score = max(difflib.SequenceMatcher(None, want, k).ratio() for k in {key, head})
        if score >= cutoff and score > scores.get(name, -1.0):
            scores[name] = score
    return tuple(sorted(scores, key=lambda k: -scores[k])[:n])


def _quoted(names: Iterable[str]) -> str:
    names = [repr(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def resolve_name(
    text: str,
    names: Iterable[str],
    *,
    what: str,
    prefix: bool = True,
    keys: Callable[[str], Iterable[str]] | None = None,
) -> str:
    """The name of ``names`` that ``text`` means.

    Parameters
    ----------
    text
        What the person typed.
    names
        The vocabulary (display names; duplicates are ignored).
    what
        What a name is, for the message: ``"landmark"``, ``"cup family"``.
    prefix
        Accept a unique case-insensitive prefix (``--cup Pinnacle``). Off where a name is
        stored data rather than typed (a plan's implant family).
    keys
        Other spellings a name is known by (a file stem, a slug), all matched like the name.

    Raises
    ------
    NameLookupError
        ``unknown <what> 'X'; did you mean 'Y'?`` (no "did you mean" when nothing is close),
        or ``<what> 'X' is ambiguous: it starts 'A' or 'B'``.

    Examples
    --------
    >>> resolve_name("TEARDROP_LEFT", ["teardrop_left", "teardrop_right"], what="landmark")
    'teardrop_left'
    >>> resolve_name("teardrop", ["teardrop_left", "teardrop_right"], what="landmark")
    Traceback (most recent call last):
    ...
    orthoplan.names.NameLookupError: landmark 'teardrop' is ambiguous: it starts 'teardrop_left' or 'teardrop_right'
    """
    vocabulary = list(dict.fromkeys(names))
    text = str(text)
    if text in vocabulary:
        return text

    def spellings(name: str) -> set[str]:
        return {_fold(name), *(_fold(k) for k in (keys(name) if keys else ()))}

    want = _fold(text)
    same = [n for n in vocabulary if want in spellings(n)]
    if len(same) == 1:
        return same[0]
    if prefix and want and not same:
        starts = [n for n in vocabulary if any(s.startswith(want) for s in spellings(n))]
        if len(starts) == 1:
            return starts[0]
        if starts:
            raise NameLookupError(f"{what} {text!r} is ambiguous: it starts {_quoted(starts)}", tuple(starts), True)
    if len(same) > 1:
        raise NameLookupError(f"{what} {text!r} is ambiguous: it names {_quoted(same)}", tuple(same), True)
    close = close_matches(text, vocabulary)
    hint = f"; did you mean {_quoted(close)}?" if close else ""
    raise NameLookupError(f"unknown {what} {text!r}{hint}", close)
