"""What text the registry accepts in names: one rule for filed cells, provider slugs and usernames.

Names are compared by people on screens. Two names that look the same must be the same name, so
text is normalised to NFC (``é`` typed as one code point or as ``e`` plus an accent is one name),
and characters that do not show are refused: controls (Unicode category Cc: NUL, escape, a
trailing newline) and format characters (Cf: bidi overrides such as U+202E, zero-width spaces and
joiners, the byte-order mark). Free-text notes may hold tabs and line breaks, nothing else of
either category.

The rule exists twice, once per engine, and both forms are here: :func:`invisible_character` for
Python values, :data:`INVISIBLE` and :func:`invisible_message` for polars columns (filed files of
millions of rows), so they cannot drift apart unseen (tests/test_text.py runs both).
"""

from __future__ import annotations

import functools
import re
import unicodedata

import polars as pl

# Rust regex classes (polars) for the Python categories below.
INVISIBLE = r"[\p{Cc}\p{Cf}]"
INVISIBLE_IN_NOTES = r"[\p{Cf}\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]"
_NOTES_ALLOWED = frozenset("\t\n\r")
EXPECTED = "visible text without control characters (such as NUL or a line break), bidi controls or zero-width " \
           "characters"

# Provider slugs, anchored with \Z: ``$`` also matches before a final newline, which let "alpha\n"
# in as a second "alpha". Safe with ``match`` and ``fullmatch`` alike.
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\Z")


def is_slug(value: str | None) -> bool:
    return bool(value) and SLUG.fullmatch(value or "") is not None


def invisible_character(text: str, *, notes: bool = False) -> tuple[int, str] | None:
    """The first control or format character (1-based position, the character), or None."""
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) in ("Cc", "Cf") and not (notes and char in _NOTES_ALLOWED):
            return position, char
    return None


def describe(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``; controls have no name, only a code point."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def clean_name(value: str, what: str) -> str:
    """The value in NFC without surrounding whitespace; ValueError naming ``what``, the character and
    its position when it holds one that does not show. For slugs, usernames and other names typed in
    forms and commands."""
    text = unicodedata.normalize("NFC", value).strip()
    found = invisible_character(text)
    if found is not None:
        position, char = found
        raise ValueError(f"{what} has {describe(char)} at character {position}; expected {EXPECTED}")
    return text


# --- the same rule over polars columns -----------------------------------------------------------

@functools.cache
def may_change_or_hide() -> str:
    """A regex class of the characters that NFC may change or this module refuses: text without any
    is its own NFC and passes. For screens that must not normalise every cell (screen.py).

    NFC changes a string only at a character that is not NFC on its own (a singleton such as
    U+212B ANGSTROM SIGN) or that composes with or reorders around what precedes it: every such
    second character is a mark (category M) or a Hangul vowel or final jamo (checked over every
    decomposition in tests/test_text.py).
    """
    singles = [c for c in range(0x30000)
               if not 0xD800 <= c < 0xE000 and not unicodedata.is_normalized("NFC", chr(c))]
    ranges = "".join(f"\\x{{{c:X}}}" for c in singles)
    return f"[\\p{{Cc}}\\p{{Cf}}\\p{{M}}\\x{{1161}}-\\x{{1175}}\\x{{11A8}}-\\x{{11C2}}{ranges}]"


_HEX = "0123456789ABCDEF"


def normalized(expr: pl.Expr) -> pl.Expr:
    return expr.str.normalize("NFC")


def invisible_message(expr: pl.Expr, *, notes: bool = False) -> pl.Expr:
    """Where the text holds a character that does not show: ``has U+200B at character 3``; null
    elsewhere. Polars has no ``ord``: the code point is decoded from the character's UTF-8 bytes."""
    pattern = INVISIBLE_IN_NOTES if notes else INVISIBLE
    char = expr.str.extract(f"({pattern})", 1)
    position = expr.str.extract(f"^((?s:.)*?){pattern}", 1).str.len_chars() + 1
    return pl.when(expr.str.contains(pattern)).then(
        pl.format("has {} at character {}", _code_point_label(char), position))


def _code_point_label(char: pl.Expr) -> pl.Expr:
    raw = char.cast(pl.Binary)
    b = [raw.bin.get(i, null_on_oob=True).cast(pl.Int64).fill_null(0) for i in range(4)]
    point = (
        pl.when(b[0] < 0x80).then(b[0])
        .when(b[0] < 0xE0).then((b[0] % 32) * 64 + b[1] % 64)
        .when(b[0] < 0xF0).then((b[0] % 16) * 4096 + (b[1] % 64) * 64 + b[2] % 64)
        .otherwise((b[0] % 8) * 262144 + (b[1] % 64) * 4096 + (b[2] % 64) * 64 + b[3] % 64)
    )
    digits = [pl.lit(_HEX).str.slice((point // 16**i) % 16, 1) for i in (5, 4, 3, 2, 1, 0)]
    wide = pl.concat_str(digits)
    # Four digits at least, as U+ notation is written (Python's ``f"{point:04X}"``).
    shown = (pl.when(point > 0xFFFFF).then(wide).when(point > 0xFFFF).then(wide.str.slice(1, 5))
             .otherwise(wide.str.slice(2, 4)))
    return pl.concat_str([pl.lit("U+"), shown])
