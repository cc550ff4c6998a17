"""Text in the results: whatever a locustfile or a target puts in a message or a name, what the
results keep of it is valid UTF-8 without control characters, bounded, and a cut is said."""
from __future__ import annotations

import unicodedata

from hypothesis import given, settings, strategies as st

from ansible_collections.romram.hailstorms.plugins.module_utils.records import (
    TEXT_LIMIT, exception_kind, failure_text, request_label, safe_text)

ANY_TEXT = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF))  # lone surrogates too


def unsafe(text: str, lines: bool = False) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") and not (lines and ch in "\n\t")]


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT | st.binary(), st.integers(1, 300), st.booleans(), st.booleans())
def test_any_text_or_bytes_become_utf8_without_control_characters_and_bounded(value, limit, lines, keep_end):
    safe = safe_text(value, limit, lines=lines, keep_end=keep_end)
    safe.encode("utf-8")  # never raises: no lone surrogate
    assert not unsafe(safe, lines), safe
    length = len(value.decode("utf-8", "backslashreplace")) if isinstance(value, bytes) else len(value)
    if length > limit:  # the cut is said, with what was left out
        marker = f"…({length - limit} earlier characters) " if keep_end else f"…({length - limit} more characters)"
        assert safe.startswith(marker) if keep_end else safe.endswith(marker), safe
    else:  # nothing cut
        assert safe == safe_text(value, None, lines=lines)
    assert len(safe) <= 6 * limit + 40  # each kept character becomes at most its escape "\uXXXX"


@given(ANY_TEXT)
def test_safe_text_is_stable_and_printable_text_is_kept_as_it_is(text):
    once = safe_text(text, None, lines=True)
    assert safe_text(once, None, lines=True) == once
    if text.isprintable():
        assert safe_text(text, None) == text


def test_what_each_unsafe_character_becomes():
    assert safe_text("bad \ud800 text") == "bad \\ud800 text"  # what json.loads gives for "\ud800"
    assert safe_text(b"caf\xc3\xa9 \xff") == "café \\xff"
    assert safe_text("\x1b[31mred\x1b[0m\r\n\tnext\u2028") == "\\x1b[31mred\\x1b[0m\\r\\n\\tnext\\u2028"
    assert safe_text("line 1\n\tline 2", lines=True) == "line 1\n\tline 2"
    assert safe_text("no-break\u00a0space, emoji \U0001F469\u200d\U0001F4BB") == \
        "no-break\u00a0space, emoji \U0001F469\u200d\U0001F4BB"  # printable in a page: kept
    assert safe_text("x" * 250) == "x" * TEXT_LIMIT + "…(50 more characters)"
    assert safe_text("abcdef", 2, keep_end=True) == "…(4 earlier characters) ef"


def test_an_object_whose_text_cannot_be_read_is_named_by_its_type():
    class Broken(Exception):
        def __str__(self):
            raise RuntimeError("no")

    assert safe_text(Broken()) == "<Broken whose text cannot be read>"
    assert exception_kind(Broken()) == "Broken: <Broken whose text cannot be read>"


PAGE = ("<!DOCTYPE html>\n<html><head><style>body{color:red}</style><title>503 Service\n Unavailable</title></head>"
        "<body><h1>Service Unavailable</h1><p>" + "secret stack trace " * 400 + "</p></body></html>")


def test_an_html_error_body_is_reduced_to_its_status_and_a_few_words():
    text = failure_text("Unexpected answer: " + PAGE, 503)
    assert text == f"Unexpected answer: [HTML page, HTTP 503, {len(PAGE)} characters: 503 Service Unavailable]"
    untitled = "<html><body><script>var x = 1;</script><p>Bad &amp; wrong</p>" + "z" * 5000 + "</body></html>"
    assert failure_text(untitled).startswith("[HTML page, ") and "Bad & wrong" in failure_text(untitled)
    assert len(failure_text(untitled)) <= TEXT_LIMIT + 30 and "<" not in failure_text(untitled)
    assert failure_text("a < b and 2 > 1") == "a < b and 2 > 1"  # not a page
    assert exception_kind(ValueError(PAGE)).startswith("ValueError: [HTML page, ")


def test_labels_are_made_safe_and_bounded():
    assert request_label("GET", "/x\ud800\n") == "GET /x\\ud800\\n"
    label = request_label("GET", "/" + "q" * 1000)
    assert label.endswith("…(501 more characters)") and len(label) < 600
