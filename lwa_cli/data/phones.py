"""The phone set: ARPAbet labels of MFA alignments mapped onto the 39 phones plus ``SIL``.

Montreal-Forced-Aligner alignments of LibriSpeech use ARPAbet phones with stress digits
(``AH0``, ``IY1``), ``sil`` for silence, ``sp`` for short pauses and ``spn`` for spoken noise
(out-of-vocabulary words). The analysis works on the traditional 39-phone set: stress is
removed and the label lower-cased, silence becomes ``SIL``, and pauses/noise are dropped.

Unlike the reference (which lower-cased any unknown label and kept it as a new phone), a label
outside this set is an error naming the label: such a label means the alignments use another
phone set (IPA, TIMIT), and silently adding phones would change the 39-way experiments.
Matching is case-insensitive, so ``SIL``/``Sil`` also map to ``SIL``.
"""

from __future__ import annotations

from lwa_cli.errors import LwaError

#: The 39 ARPAbet phones (CMUdict set, no stress), lower-case and sorted.
PHONES_39: tuple[str, ...] = (
    "aa", "ae", "ah", "ao", "aw", "ay", "b", "ch", "d", "dh", "eh", "er", "ey",
    "f", "g", "hh", "ih", "iy", "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p",
    "r", "s", "sh", "t", "th", "uh", "uw", "v", "w", "y", "z", "zh",
)  # fmt: skip

#: The silence label kept next to the 39 phones.
SIL = "SIL"

#: Labels (lower-cased) that carry no phone and are dropped: empty, short pause, spoken noise.
DROPPED_LABELS: frozenset[str] = frozenset({"", "sp", "spn"})

_PHONE_SET = frozenset(PHONES_39)
_STRESS_DIGITS = ("0", "1", "2")


class UnknownPhoneError(LwaError):
    """A phone label that is neither one of the 39 phones, silence, nor a dropped label."""

    def __init__(self, label: str) -> None:
        self.label = label
        super().__init__(
            f"unknown phone label {label!r}: expected ARPAbet phones (optionally with stress "
            "0/1/2), 'sil', 'sp', 'spn' or an empty label, as in MFA LibriSpeech alignments"
        )


def normalize_phone(label: str) -> str | None:
    """Map one alignment phone label onto the 39-phone set.

    Parameters
    ----------
    label : str
        A label from the ``phones`` tier, e.g. ``"AH0"``, ``"sil"``, ``"spn"``.

    Returns
    -------
    str or None
        ``"SIL"`` for silence, the lower-case stress-free phone (``"AH0"`` → ``"ah"``), or
        ``None`` for labels that are dropped (empty, ``sp``, ``spn``).

    Raises
    ------
    UnknownPhoneError
        If the label is none of the above.
    """
    lowered = label.strip().lower()
    if lowered in DROPPED_LABELS:
        return None
    if lowered == "sil":
        return SIL
    base = lowered[:-1] if lowered.endswith(_STRESS_DIGITS) else lowered
    if base in _PHONE_SET:
        return base
    raise UnknownPhoneError(label)
