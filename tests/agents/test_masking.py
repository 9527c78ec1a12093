"""Masking: a property (whatever text surrounds them, the sensitive values never survive masking, the same value
always gets the same placeholder on a board, and unmasking restores the text), and masking findings' fields."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slateboard import Finding
from slateboard.agents.masking import Masking
from slateboard.errors import ConfigurationError

EMAILS = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,5})?@[a-z]{2,8}\.(com|example|de)", fullmatch=True)
CARDS = st.from_regex(r"4[0-9]{3}( ?[0-9]{4}){3}", fullmatch=True)
FILLER = st.text(alphabet=st.sampled_from("abc XYZ,.;:-!?\n"), max_size=30)


@settings(deadline=None)  # generating from regexes is slow on a loaded machine; the property is not about time
@given(parts=st.lists(st.tuples(FILLER, st.one_of(EMAILS, CARDS)), min_size=1, max_size=6), board=st.text(min_size=1))
def test_sensitive_values_never_survive_masking_and_come_back_when_unmasked(
    parts: list[tuple[str, str]], board: str
) -> None:
    text = "".join(f"{filler} {value} " for filler, value in parts)
    masker = Masking(patterns=("email", "card")).masker(board)
    masked = masker.text(text)
    for _, value in parts:
        assert value not in masked
    assert masker.unmask(masked) == text
    again = Masking(patterns=("email", "card")).masker(board)
    assert again.text(text) == masked  # the same values, the same placeholders, on this board
    assert set(re.findall(r"<[a-z]+:[0-9a-f]{8}>", masked)) <= set(masker.used)


class Contact(Finding):
    kind_name = "masktest.Contact"
    name: str
    phone: str
    note: str


def test_listed_fields_are_masked_whole_and_the_blocklist_before_patterns() -> None:
    contact = Contact(subject="c", name="Jo", phone="12", note="Project Falcon: mail jo@x.example", confidence=1)
    masker = Masking(patterns=("email",), fields=frozenset({"phone"}), blocklist=frozenset({"Project Falcon"}))
    shown = masker.masker("b").finding(contact)
    assert shown.phone.startswith("<phone:")  # type: ignore[attr-defined]
    assert shown.note.startswith("<blocked:")  # type: ignore[attr-defined]
    assert "jo@x.example" not in shown.note  # type: ignore[attr-defined]
    assert shown.name == "Jo"  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="no built-in pattern 'ssn'"):
        Masking(patterns=("ssn",))
