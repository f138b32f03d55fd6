"""decode_envelope and the shared parsing helpers every adapter relies on."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.adapters import AdapterError, decode_envelope
from processors.adapters.common import json_depth_exceeds, parse_time
from processors.adapters.html_text import html_to_text

ENVELOPE = {
    "ingest_id": "abc",
    "source": "replay",
    "format": "canonical",
    "received_at": "2024-06-01T14:00:00+02:00",
    "payload": {"id": "x:1"},
    "context": {"file": "posts.jsonl"},
}


def _raw(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_decodes_a_valid_envelope() -> None:
    envelope = decode_envelope(_raw(ENVELOPE), max_bytes=1024)
    assert envelope.format == "canonical"
    assert envelope.received_at == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert envelope.payload == {"id": "x:1"}
    assert envelope.context == {"file": "posts.jsonl"}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_raw(ENVELOPE | {"payload": "x" * 200_001}), "too_large"),
        (b'{"ingest_id": "\xff\xfe"}', "invalid_utf8"),
        (b"\xed\xa0\x80", "invalid_utf8"),
        (b'{"ingest_id": ', "invalid_json"),
        (b"", "invalid_json"),
        (b"[" * 900 + b"]" * 900, "too_deep"),
        (b"[" * 100_000, "too_deep"),
        (_raw(ENVELOPE | {"payload": json.loads("[" * 70 + "]" * 70)}), "too_deep"),
        (_raw([ENVELOPE]), "wrong_type"),
        (_raw({k: v for k, v in ENVELOPE.items() if k != "format"}), "missing_field"),
        (_raw(ENVELOPE | {"format": 3}), "wrong_type"),
        (_raw(ENVELOPE | {"received_at": "noon"}), "invalid_timestamp"),
        (_raw(ENVELOPE | {"extra": 1}), "invalid_value"),
        (b'{"a": Infinity}', "invalid_json"),
    ],
)
def test_rejects_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(AdapterError) as err:
        decode_envelope(data, max_bytes=200_000)
    assert err.value.reason == reason
    assert err.value.detail
    assert str(err.value).startswith(reason)


def test_depth_limit_is_64_levels() -> None:
    at_limit = json.loads("[" * 63 + "]" * 63)
    assert not json_depth_exceeds({"payload": at_limit})
    assert json_depth_exceeds({"payload": [at_limit]})


def test_adapter_error_pickles_with_its_fields() -> None:
    copy = pickle.loads(pickle.dumps(AdapterError("too_large", "5 MB")))
    assert (copy.reason, copy.detail, str(copy)) == ("too_large", "5 MB", "too_large: 5 MB")
    assert isinstance(copy, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-04-01T17:31:32.000Z", datetime(2020, 4, 1, 17, 31, 32, tzinfo=UTC)),
        ("2024-05-14T08:15:30+02:00", datetime(2024, 5, 14, 6, 15, 30, tzinfo=UTC)),
        ("2024-05-14T08:15:30", datetime(2024, 5, 14, 8, 15, 30, tzinfo=UTC)),
        ("Tue Oct 31 22:10:47 +0000 2017", datetime(2017, 10, 31, 22, 10, 47, tzinfo=UTC)),
        ("Mon, 03 Jun 2024 09:30:00 +0100", datetime(2024, 6, 3, 8, 30, tzinfo=UTC)),
        (1715590800, datetime(2024, 5, 13, 9, 0, tzinfo=UTC)),
        (1715590800.5, datetime(2024, 5, 13, 9, 0, 0, 500000, tzinfo=UTC)),
        ([2024, 3, 1, 7, 0, 0, 4, 61, 0], datetime(2024, 3, 1, 7, tzinfo=UTC)),
    ],
)
def test_parse_time_is_utc(value: Any, expected: datetime) -> None:
    parsed = parse_time(value, "t")
    assert parsed == expected
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "value", ["", "soon", "2024-02-30T00:00:00Z", 1e20, float("nan"), -1e12, [2024, 1], "9" * 100]
)
def test_parse_time_rejects(value: Any) -> None:
    with pytest.raises(AdapterError) as err:
        parse_time(value, "t")
    assert err.value.reason == "invalid_timestamp"


def test_html_keeps_line_breaks_and_skips_scripts() -> None:
    text, links = html_to_text(
        "<p>One<br>two</p><p>three &amp; <a href='https://a.example/x'>four</a></p>"
        "<script>alert(1)</script><ul><li>five</li><li>six</li></ul>"
    )
    assert text == "One\ntwo\n\nthree & four\n\nfive\nsix"
    assert links == ["https://a.example/x"]


@pytest.mark.parametrize(
    "markup", ["<![if !supportLists]>", "<!", "</", "<a href=", "&#xffffffff;"]
)
def test_html_oddities_do_not_escape(markup: str) -> None:
    try:
        html_to_text(markup)
    except AdapterError as exc:
        assert exc.reason == "invalid_value"
