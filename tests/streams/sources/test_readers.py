from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.sources.readers import (
    READER_FORMATS,
    Record,
    UnknownFormat,
    count_records,
    envelope_format,
    iter_records,
    thread_roots,
)

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"
SPOTIFY = (
    Path(__file__).resolve().parents[3]
    / ".."
    / "shared"
    / "data"
    / "twcs"
    / ("spotify_support_requests.csv")
)

CASES = [
    (PAYLOADS / "canonical_posts.jsonl", "jsonl"),
    (PAYLOADS / "mastodon_stream.jsonl", "mastodon"),
    (PAYLOADS / "bluesky_jetstream.jsonl", "bluesky-jetstream"),
    (PAYLOADS / "x_v2_stream.jsonl", "x-v2"),
    (PAYLOADS / "twcs_threads.csv", "twcs-csv"),
    (PAYLOADS / "customer_care_dialogs.json", "customer-care-json"),
]


def test_every_reader_format_has_an_adapter_format() -> None:
    from processors.adapters import FORMATS

    assert {fmt for _, fmt in CASES} == set(READER_FORMATS)
    assert all(envelope_format(fmt) in FORMATS for fmt in READER_FORMATS)
    assert envelope_format("jsonl") == "canonical"
    with pytest.raises(UnknownFormat, match="unknown format 'xml'; choose one of: jsonl, twcs-csv"):
        envelope_format("xml")
    for reader in (
        lambda: iter_records(Path("x.xml"), "xml"),
        lambda: count_records(Path("x"), "xml"),
    ):
        with pytest.raises(UnknownFormat):
            reader()


@pytest.mark.parametrize(("path", "fmt"), CASES)
def test_resume_from_any_position_yields_exactly_the_rest(path: Path, fmt: str) -> None:
    records = list(iter_records(path, fmt))
    assert len(records) == count_records(path, fmt) > 0
    positions = [r.position for r in records]
    assert positions == sorted(set(positions))
    for cut, record in enumerate(records):
        assert list(iter_records(path, fmt, start=record.position)) == records[cut:]
        assert list(iter_records(path, fmt, start=record.position + 1)) == records[cut + 1 :]
    assert list(iter_records(path, fmt, start=positions[-1] + 1)) == []
    for record in records:  # what the producer will put in the envelope must be JSON
        json.dumps(record.payload)
        json.dumps(record.context)


def test_jsonl_positions_are_line_numbers_and_bad_lines_pass_as_text() -> None:
    records = list(iter_records(PAYLOADS / "canonical_posts.jsonl", "jsonl"))
    assert [r.position for r in records] == [0, 1, 3, 4], "line 2 is blank"
    assert isinstance(records[0].payload, dict) and records[0].payload["id"] == "mastodon:1001"
    bad = records[2]
    assert (
        bad.payload == '{"id":"mastodon:1003", "platform": "mastodon", "created_at": "2024-05-01T1'
    )
    assert records[0].context == {"file": "canonical_posts.jsonl"}


def test_jsonl_invalid_utf8_and_deep_lines_still_flow(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b'{"a": 1}\n\xff\xfe broken\n' + b"[" * 5000 + b"\n")
    records = list(iter_records(path, "jsonl"))
    assert [r.payload for r in records[:2]] == [{"a": 1}, "\ufffd\ufffd broken"]
    assert records[2].payload == "[" * 5000


def test_twcs_context_has_roots_and_parent_authors() -> None:
    records = list(iter_records(PAYLOADS / "twcs_threads.csv", "twcs-csv"))
    assert [r.payload["tweet_id"] for r in records] == [
        "501", "502", "503", "504", "505", "601", "602", "700",
    ]  # fmt: skip
    assert "\n" in records[1].payload["text"], "a quoted cell spans lines: positions are rows"
    roots = {r.payload["tweet_id"]: r.context["conversation_root"] for r in records}
    assert roots == {
        "501": "501", "502": "501", "503": "501", "504": "501", "505": "501",
        "601": "599", "602": "599", "700": "700",
    }  # fmt: skip
    authors = {r.payload["tweet_id"]: r.context.get("in_reply_to_author") for r in records}
    assert authors["502"] == "900001"
    assert authors["505"] == "900001"
    assert authors["601"] is None, "the parent is not in the file"
    assert authors["602"] == "900003"


def test_thread_roots_survives_cycles_and_long_chains() -> None:
    assert thread_roots({"a": "b", "b": "a"}) in ({"a": "a", "b": "a"}, {"a": "b", "b": "b"})
    chain = {str(i): str(i - 1) for i in range(1, 50_000)}
    roots = thread_roots(chain)
    assert roots["49999"] == "0" and roots["1"] == "0"


def test_customer_care_turns_and_context() -> None:
    records = list(iter_records(PAYLOADS / "customer_care_dialogs.json", "customer-care-json"))
    assert [r.position for r in records] == list(range(7))
    first, second = records[:4], records[4:]
    assert [r.payload["tweet_ID"] for r in first] == [
        "1245380000000000001", "1245390000000000002", "1245395000000000004", "1245400000000000003",
    ]  # fmt: skip
    assert first[-1].payload == {
        "agent": "PixelPostHelp",
        "message": "@kaito_builds Sorry about that! You can reset it here: "
        "https://help.pixelpost.example/reset ^LM",
        "tweet_ID": "1245400000000000003",
    }
    assert {r.context["conversation_id"] for r in first} == {"1245380000000000001"}
    assert first[0].context.get("in_reply_to") is None
    assert first[2].context["in_reply_to"] == "1245390000000000002"
    assert first[2].context["in_reply_to_role"] == "agent"
    assert second[1].context["in_reply_to_role"] == "client"
    assert second[2].context["in_reply_to_role"] == "client1"
    assert second[2].context["company"] == "Greenleaf Grocers"
    assert [r.context["turn_index"] for r in second] == [0, 1, 2]
    assert second[0].context["dialog_index"] == 1


def test_customer_care_reader_streams_small_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streams.sources.readers as readers

    monkeypatch.setattr(readers, "_CHUNK", 7)  # forces elements and numbers to straddle reads
    path = tmp_path / "dialogs.json"
    dialogs = json.loads((PAYLOADS / "customer_care_dialogs.json").read_text())
    dialogs.append({"dialogContent": [{"client": "n", "message": "m", "tweet_ID": 12345678}]})
    path.write_text(json.dumps(dialogs, indent=3))
    records = list(iter_records(path, "customer-care-json"))
    assert len(records) == 8
    assert records[-1].payload["tweet_ID"] == 12345678


@pytest.mark.parametrize("text", ["", "{}", "[1, 2", '[{"a": 1} {"b": 2}]'])
def test_customer_care_reader_rejects_non_arrays(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError):
        list(iter_records(path, "customer-care-json"))


def test_records_are_frozen() -> None:
    record = Record(payload={}, context={}, position=0)
    with pytest.raises(AttributeError):
        record.position = 1  # type: ignore[misc]


def test_big_twcs_file_streams_and_resumes() -> None:
    if not SPOTIFY.exists():
        pytest.skip(f"data set not present at {SPOTIFY}")
    total = count_records(SPOTIFY, "twcs-csv")
    assert total > 15_000
    tail = list(iter_records(SPOTIFY, "twcs-csv", start=total - 3))
    assert [r.position for r in tail] == [total - 3, total - 2, total - 1]
    first = next(iter_records(SPOTIFY, "twcs-csv"))
    assert first.payload["tweet_id"] == "849"
    assert first.context["conversation_root"] == "848", "pandas float ids are read as ints"
