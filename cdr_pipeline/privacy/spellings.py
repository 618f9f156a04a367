"""How a personal value may be spelled in a text, and the replacing of it there.

A value is looked for as it is, JSON-escaped, HTML-escaped and CSV-quoted, in any case, an
accented letter as one character or as the letter and its mark; a short value (an extension
such as `1106`) only as a whole field, a short name of several words (`Li Na`) between
characters that are not letters or digits. `scrub.py` edits files with these, `forget.py`
matches rows' texts with `text_pattern`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cdr_pipeline.render import short_id
from cdr_pipeline.text import file_name_joins, is_name_of_words, unicode_forms

SHORT = 7
"""Values shorter than this are replaced only as whole fields."""
_FIELD_EDGE = r"[,;\t\"'\r\n\[\]{}<>|]"
_BLANKS = re.compile(r"\s+")
_WORD_EDGE_RE2 = r"[^\pL\pN]"
"""A character that is neither a letter nor a digit (RE2, as DuckDB reads it)."""


def spellings(value: str) -> list[str]:
    """The ways `value` may be written in a text file, longest first; an accented letter
    also as one character and as a letter and its mark (`unicode_forms`)."""
    forms: set[str] = set()
    for form in unicode_forms(value):
        forms |= {
            form,
            json.dumps(form)[1:-1],
            json.dumps(form, ensure_ascii=False)[1:-1],
            html.escape(form),
            html.escape(form, quote=False),
            # Jinja's escaping (markupsafe), which Data Docs pages are rendered with
            html.escape(form).replace("&#x27;", "&#39;").replace("&quot;", "&#34;"),
            form.replace('"', '""'),
        }
        if not _BLANKS.search(form):  # an id as a report table shortens it (`…0cb097e298`)
            forms.add(short_id(form))
    return sorted((f for f in forms if f), key=len, reverse=True)


_RE2_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


def text_pattern(values: Iterable[str]) -> str | None:
    """A regular expression (RE2, as DuckDB reads it) matching any of `values` inside free
    text in the spellings a JSON text may use, ignoring case (an e-mail is spelled either
    way); a short value only as a whole field, as `replacement_pairs` replaces it. None for none."""
    parts: set[str] = set()
    for value in values:
        for form in spellings(value):
            text = _RE2_SPECIAL.sub(r"\\\1", form)
            if len(value) >= SHORT:
                parts.add(text)
            else:
                edge = _WORD_EDGE_RE2 if is_name_of_words(value) else _FIELD_EDGE
                parts.add(f"(^|{edge}){text}({edge}|$)")
    return "(?i)" + "|".join(sorted(parts)) if parts else None


@dataclass(frozen=True)
class Replacement:
    old: str
    """The spelling, case-folded (what `replace_text` looks for first)."""
    new: str
    pattern: re.Pattern[str]
    """The spelling in any case (as `text_pattern` finds it; for a short value, as a whole
    field only)."""


def _joined(value: str) -> list[str]:
    """`value` and, when it holds several words (a name), its words joined as a file name
    joins them (`grace_chen_calls.csv`, `Grace-Chen.csv`; `Chen_Grace.csv` of `Chen,
    Grace`): an export or its rejects file named so kept the erased person's name while
    `Grace Chen.csv` was renamed (`text.file_name_joins`)."""
    return file_name_joins(value)


def replacement_pairs(replacements: Mapping[str, str]) -> list[Replacement]:
    pairs: list[Replacement] = []
    for value, pseudo in replacements.items():
        forms = dict.fromkeys(f for joined in _joined(value) for f in spellings(joined))
        for form in forms:
            text = re.escape(form)
            if len(value) < SHORT and is_name_of_words(value):
                text = rf"(?<![^\W_]){text}(?![^\W_])"
            elif len(value) < SHORT:
                text = rf"(?:(?<={_FIELD_EDGE})|^){text}(?={_FIELD_EDGE}|$)"
            pattern = re.compile(text, re.MULTILINE | re.IGNORECASE)
            pairs.append(Replacement(form.casefold(), pseudo, pattern))
    return sorted(pairs, key=lambda p: len(p.old), reverse=True)


def replace_text(text: str, pairs: list[Replacement]) -> str:
    """`text` with each spelling of `pairs` replaced, ignoring case: the selector and the
    rows' texts compare e-mails and ids so (`text_pattern`), and a page or report spells an
    e-mail as its source did (`Olga.Pruitt@Example.com`)."""
    folded = text.casefold()
    for rep in pairs:
        if rep.old not in folded:
            continue
        new = rep.pattern.sub(rep.new, text)
        if new != text:
            text, folded = new, new.casefold()
    return text
