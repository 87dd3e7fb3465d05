"""tracker/text.py: the one rule for names, in its Python and its polars form."""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest

from tracker.text import clean_name, invisible_character, invisible_message, is_slug, may_change_or_hide

SAMPLES = ["acme-lm", "a\u200bb", "\x00x", "é\u202e", "x\U000e0001", "ok\n", "t\tx", "a\u00adb", "ab\u0085",
           "\ufeffbom", "région", "東京", "e\u0301", "\u2066isolate\u2069", "zero\u200dwidth joiner"]


@pytest.mark.parametrize("notes", [False, True])
def test_the_polars_rule_finds_what_the_python_rule_finds_at_the_same_place(notes: bool) -> None:
    frame = pl.DataFrame({"s": SAMPLES})
    got = frame.select(invisible_message(pl.col("s"), notes=notes)).to_series().to_list()
    for text, message in zip(SAMPLES, got, strict=True):
        found = invisible_character(text, notes=notes)
        expected = None if found is None else f"has U+{ord(found[1]):04X} at character {found[0]}"
        assert message == expected, text


def test_notes_may_hold_tabs_and_line_breaks_and_nothing_else_invisible() -> None:
    assert invisible_character("line one\nline two\ttab\r\n", notes=True) is None
    assert invisible_character("line\u202eone", notes=True) == (5, "\u202e")
    assert invisible_character("line one\n") == (9, "\n")


def test_slugs_are_matched_whole() -> None:
    assert is_slug("alpha") and is_slug("a-b_9")
    for bad in ("alpha\n", "Alpha", "-alpha", "", None, "a" * 65, "al pha", "alpha\u200b"):
        assert not is_slug(bad), repr(bad)


def test_clean_name_normalises_and_names_the_character() -> None:
    assert clean_name(" e\u0301cole ", "the name") == "\u00e9cole"
    with pytest.raises(ValueError, match=r"^the name has U\+202E RIGHT-TO-LEFT OVERRIDE at character 4; expected "):
        clean_name("abc\u202edef", "the name")
    with pytest.raises(ValueError, match=r"has U\+0000 at character 2"):
        clean_name("a\x00", "the name")


def test_text_without_a_flagged_character_is_its_own_nfc() -> None:
    """What the screen relies on: no character of the class, no change under NFC. Checked on every
    decomposable character composed back (each pair NFC may join), and on every singleton."""
    pattern = may_change_or_hide()
    texts = []
    for point in range(0x30000):
        if 0xD800 <= point < 0xE000:
            continue
        char = chr(point)
        decomposed = unicodedata.normalize("NFD", char)
        if decomposed != char:
            texts.append(decomposed)
        if not unicodedata.is_normalized("NFC", char):
            texts.append(char)
    flagged = pl.Series(texts).str.contains(pattern).to_list()
    missed = [t for t, f in zip(texts, flagged, strict=True) if not f and unicodedata.normalize("NFC", t) != t]
    assert not missed, [ascii(t) for t in missed[:10]]
    assert not pl.Series(["région", "東京", "acme-lm", "seg 5"]).str.contains(pattern).any()
