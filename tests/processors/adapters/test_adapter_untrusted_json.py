"""The one parse path for untrusted JSON: size, UTF-8, syntax and depth all end as AdapterError."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.adapters.common import MAX_DEPTH, parse_json_object, parse_untrusted_json
from processors.adapters.errors import (
    INVALID_JSON,
    INVALID_UTF8,
    TOO_DEEP,
    TOO_LARGE,
    WRONG_TYPE,
    AdapterError,
)

LIMIT = 64 * 1024
PARSE_REASONS = {INVALID_JSON, INVALID_UTF8, TOO_DEEP, TOO_LARGE}


def _reason(data: str | bytes, limit: int = LIMIT) -> str:
    with pytest.raises(AdapterError) as caught:
        parse_json_object(data, limit, "frame")
    return caught.value.reason


def test_a_valid_object_parses_from_text_or_bytes() -> None:
    value = {"kind": "commit", "nested": [[{"a": "é"}]]}
    assert parse_json_object(json.dumps(value), LIMIT) == value
    assert parse_json_object(json.dumps(value, ensure_ascii=False).encode(), LIMIT) == value


@pytest.mark.parametrize("data", ["[" * 200_000, b"[" * 200_000, '{"a":' * 100_000])
def test_nesting_that_would_blow_the_stack_is_too_deep(data: str | bytes) -> None:
    assert _reason(data, limit=1024 * 1024) == TOO_DEEP


def test_nesting_past_the_normalizers_limit_is_too_deep_and_at_it_parses() -> None:
    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_untrusted_json(at_limit, LIMIT) is not None
    assert _reason("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)) == TOO_DEEP


def test_size_is_counted_in_utf8_bytes_before_parsing() -> None:
    ascii_text = json.dumps({"pad": "x" * LIMIT})
    assert _reason(ascii_text) == TOO_LARGE
    assert _reason(ascii_text.encode()) == TOO_LARGE
    # Under the limit in characters, over it in bytes (three bytes each).
    wide = json.dumps({"pad": "€" * (LIMIT // 3)}, ensure_ascii=False)
    assert len(wide) < LIMIT < len(wide.encode())
    assert _reason(wide) == TOO_LARGE


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("{broken", INVALID_JSON),
        ("", INVALID_JSON),
        ('{"a": NaN}', INVALID_JSON),
        ("1" * 5_000, INVALID_JSON),  # past Python's digit limit: ValueError, not JSONDecodeError
        (b'{"a": "\xff"}', INVALID_UTF8),
        ("[1, 2]", WRONG_TYPE),
        ("null", WRONG_TYPE),
        ('"text"', WRONG_TYPE),
    ],
)
def test_each_kind_of_bad_frame_has_its_reason(data: str | bytes, reason: str) -> None:
    assert _reason(data) == reason


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.binary(), st.text(alphabet='[]{}":,0123456789 \\u')))
def test_arbitrary_input_raises_nothing_but_adapter_error(data: str | bytes) -> None:
    try:
        parse_untrusted_json(data, 512)
    except AdapterError as exc:
        assert exc.reason in PARSE_REASONS


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=300_000), st.sampled_from(["[", '{"k":', '[{"k":']))
def test_any_depth_of_opening_brackets_is_refused_cleanly(depth: int, opener: str) -> None:
    with pytest.raises(AdapterError) as caught:
        parse_untrusted_json(opener * depth, 4 * 1024 * 1024)
    assert caught.value.reason in {INVALID_JSON, TOO_DEEP}


@pytest.mark.parametrize(
    "data",
    [b'{"a": "\\ud800"}', '{"a": "x\\udc00y"}', b'["\\uDBFF"]', '{"\\ud800": 1}'],
)
def test_an_unpaired_surrogate_is_refused_where_it_is_parsed(data: str | bytes) -> None:
    """Valid JSON that no UTF-8 can carry: refused here, not later in the producer."""
    assert _reason(data) == INVALID_UTF8


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b'{"a": "\\ud83d\\ude00"}', {"a": "\U0001f600"}),  # an escaped pair is one emoji
        ('{"a": "\\\\ud800"}', {"a": "\\ud800"}),  # an escaped backslash, then letters
    ],
)
def test_paired_surrogates_and_look_alikes_pass(data: str | bytes, value: object) -> None:
    assert parse_untrusted_json(data, 512) == value


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_whatever_parses_can_be_sent_as_utf8(text: str) -> None:
    """The parse path's promise to the producer: anything it returns encodes as UTF-8."""
    data = json.dumps({"t": text})  # ensure_ascii: lone surrogates arrive escaped
    try:
        value = parse_untrusted_json(data, 1 << 20)
    except AdapterError as exc:
        assert exc.reason == INVALID_UTF8
        return
    json.dumps(value, ensure_ascii=False).encode("utf-8")
