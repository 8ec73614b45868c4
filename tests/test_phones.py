"""The ARPAbet → 39-phone mapping."""

from __future__ import annotations

import pytest

from lwa_cli.data.phones import PHONES_39, SIL, UnknownPhoneError, normalize_phone
from lwa_cli.errors import LwaError

# The CMUdict phone set, written out independently of the module.
VOWELS = "aa ae ah ao aw ay eh er ey ih iy ow oy uh uw".split()
CONSONANTS = "b ch d dh f g hh jh k l m n ng p r s sh t th v w y z zh".split()


def test_phone_set_is_the_39_cmudict_phones() -> None:
    assert len(PHONES_39) == 39
    assert len(set(PHONES_39)) == 39
    assert set(PHONES_39) == set(VOWELS) | set(CONSONANTS)
    assert list(PHONES_39) == sorted(PHONES_39)
    assert SIL == "SIL"
    assert SIL not in PHONES_39


@pytest.mark.parametrize("phone", VOWELS + CONSONANTS)
def test_every_arpabet_form_maps_to_its_phone(phone: str) -> None:
    upper = phone.upper()
    for label in (upper, upper + "0", upper + "1", upper + "2", phone, phone + "1"):
        assert normalize_phone(label) == phone, label


def test_silence_and_dropped_labels() -> None:
    assert normalize_phone("sil") == "SIL"
    assert normalize_phone("SIL") == "SIL"
    for label in ("sp", "SP", "spn", "SPN", "", "   "):
        assert normalize_phone(label) is None, repr(label)
    # Surrounding whitespace does not change a label.
    assert normalize_phone(" AH0 ") == "ah"


@pytest.mark.parametrize("label", ["XX", "ax", "h#", "AH3", "AH01", "sil1", "pau", "ɑ"])
def test_unknown_label_is_an_error_naming_it(label: str) -> None:
    with pytest.raises(UnknownPhoneError) as info:
        normalize_phone(label)
    assert isinstance(info.value, LwaError)
    assert repr(label) in str(info.value)
    assert info.value.label == label
