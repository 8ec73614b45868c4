"""Reading Montreal-Forced-Aligner TextGrids into word and phone intervals.

Parsing is done by praatio's text parser, which reads the long and the short Praat text
formats (and praatio's JSON form). Files may be UTF-8 or UTF-16 with a byte-order mark.

praatio's own tier objects reject intervals that overlap by a rounding error (``5.200000000000001``
followed by ``5.2``), which aligners that print float64 values produce; the reference accepted
such files. lwa therefore validates the parsed intervals itself, with a tolerance of
`TIME_TOLERANCE` seconds: an interval may not end before it starts, nor start before the
previous one ends. Zero-length intervals are kept, as in the reference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from praatio.utilities import errors as praat_errors
from praatio.utilities import textgrid_io
from praatio.utilities.constants import INTERVAL_TIER

from lwa_cli.data.phones import UnknownPhoneError, normalize_phone
from lwa_cli.errors import LwaError

Interval = tuple[str, float, float]

#: Seconds by which intervals may overlap or run backwards before a file counts as malformed.
TIME_TOLERANCE = 1e-6

# praatio reports broken input through its own exceptions and, for text it cannot split into
# the expected fields, through plain ValueError/IndexError/... from its string handling.
_PARSE_ERRORS = (
    praat_errors.PraatioException,
    ValueError,  # includes UnicodeDecodeError and float() of a bad number
    IndexError,
    KeyError,
    TypeError,
    AttributeError,
)


class MalformedTextGridError(LwaError):
    """A TextGrid that cannot be read, lacks a tier, or holds an unknown phone label."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(
            f"malformed TextGrid {self.path}: {reason}; fix or remove the file, or rerun with "
            "--skip-bad to skip such files"
        )


@dataclass(frozen=True)
class UtteranceAlignment:
    """Word and phone intervals of one utterance, in time order.

    Attributes
    ----------
    words : list of (label, start, end)
        Lower-cased words; empty (silence) intervals are dropped. ``<unk>`` is kept.
    phones : list of (label, start, end)
        Phones mapped by :func:`lwa_cli.data.phones.normalize_phone` (``SIL`` kept; empty,
        ``sp`` and ``spn`` dropped).
    end : float
        Where the alignment ends: the TextGrid's end time, or its last interval's end if later.
    """

    words: list[Interval]
    phones: list[Interval]
    end: float = field(default=0.0, compare=False)


def _read_text(path: Path) -> str:
    """File text: UTF-16 when it starts with a byte-order mark, else UTF-8 (BOM allowed)."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


def _find_tier(tiers: list[dict[str, Any]], wanted: str, path: Path) -> dict[str, Any]:
    """Return the parsed interval tier named ``wanted`` (case-insensitive).

    MFA 2 names tiers ``"<speaker> - words"`` when aligning several speakers; those match too,
    as long as exactly one tier does.
    """
    names = [str(tier["name"]) for tier in tiers]
    matches = [
        i
        for i, name in enumerate(names)
        if name.strip().lower() == wanted or name.strip().lower().endswith(f" - {wanted}")
    ]
    if not matches:
        listed = ", ".join(repr(n) for n in names) or "none"
        raise MalformedTextGridError(path, f"no tier named '{wanted}' (tiers: {listed})")
    if len(matches) > 1:
        listed = ", ".join(repr(names[i]) for i in matches)
        raise MalformedTextGridError(path, f"several tiers match '{wanted}' ({listed})")
    tier = tiers[matches[0]]
    if tier["class"] != INTERVAL_TIER:
        raise MalformedTextGridError(path, f"tier {names[matches[0]]!r} is not an interval tier")
    return tier


def _intervals(tier: dict[str, Any], path: Path) -> list[tuple[float, float, str]]:
    """Float, time-ordered ``(start, end, label)`` of a tier, checked for order and overlap."""
    name = tier["name"]
    try:
        entries = sorted((float(s), float(e), str(lab).strip()) for s, e, lab in tier["entries"])
    except (ValueError, TypeError) as exc:
        raise MalformedTextGridError(path, f"tier {name!r} has a bad time value ({exc})") from exc
    previous_end = float("-inf")
    for start, end, label in entries:
        if end < start - TIME_TOLERANCE:
            raise MalformedTextGridError(
                path, f"interval {label!r} of tier {name!r} ends ({end}) before it starts ({start})"
            )
        if start < previous_end - TIME_TOLERANCE:
            raise MalformedTextGridError(
                path,
                f"intervals of tier {name!r} overlap at {start} s (previous ends {previous_end})",
            )
        previous_end = end
    return entries


def read_textgrid(path: str | os.PathLike[str]) -> UtteranceAlignment:
    """Read the ``words`` and ``phones`` tiers of an MFA TextGrid.

    Parameters
    ----------
    path : path-like
        A TextGrid in the long or short Praat text format (UTF-8, or UTF-16 with BOM).

    Returns
    -------
    UtteranceAlignment
        Words (lower-cased) and normalised phones with float start/end times in seconds;
        intervals with empty labels, and phones ``sp``/``spn``, are dropped.

    Raises
    ------
    MalformedTextGridError
        If the file cannot be read or parsed, a tier is missing, intervals overlap, or a phone
        label is unknown. The message names the file.
    """
    path = Path(path)
    try:
        text = _read_text(path)
    except OSError as exc:
        raise MalformedTextGridError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise MalformedTextGridError(path, "it is neither UTF-8 nor UTF-16 text") from exc
    try:
        parsed = textgrid_io.parseTextgridStr(text, includeEmptyIntervals=False)
        tiers = list(parsed["tiers"])
    except _PARSE_ERRORS as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        raise MalformedTextGridError(
            path, f"cannot parse it as a Praat TextGrid ({reason})"
        ) from exc

    word_entries = _intervals(_find_tier(tiers, "words", path), path)
    phone_entries = _intervals(_find_tier(tiers, "phones", path), path)

    words = [(label.lower(), start, end) for start, end, label in word_entries if label]
    phones: list[Interval] = []
    for start, end, label in phone_entries:
        try:
            phone = normalize_phone(label)
        except UnknownPhoneError as exc:
            raise MalformedTextGridError(path, str(exc)) from exc
        if phone is not None:
            phones.append((phone, start, end))
    ends = [float(parsed.get("xmax", 0.0))] + [e for _, e, _ in word_entries + phone_entries]
    return UtteranceAlignment(words=words, phones=phones, end=max(ends))
