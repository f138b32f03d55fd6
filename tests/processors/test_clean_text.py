"""Control characters never reach a canonical post's text fields; ids are left alone.

``clean_text`` has three properties (no ``Cc`` but newline and tab, idempotent,
clean text unchanged), and every adapter path is fed one of its payloads with
escape sequences, BEL, CR, C1 and bidi controls in the text and the author.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.adapters import FORMATS, normalize
from processors.adapters.common import clean_text
from schemas.models import CanonicalPost, RawEnvelope

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
HOSTILE = "\x1b[2J\x1b]8;;http://evil\x1b\\\x07ring\x08\x7f\x85\x9b\u202eevil\u2066x\u2069\r\n"
"""One of each: CSI, OSC 8, BEL, backspace, DEL, C1 (NEL, CSI), bidi override and isolate, CRLF."""


def _bad(char: str) -> bool:
    return (unicodedata.category(char) == "Cc" and char not in "\n\t") or char in BIDI


def assert_clean(value: str | None) -> None:
    if value is not None:
        assert not any(_bad(c) for c in value), repr(value)


@given(st.text())
def test_cleaned_text_has_no_control_character_but_newline_and_tab(text: str) -> None:
    cleaned = clean_text(text)
    assert_clean(cleaned)
    assert "\r" not in cleaned


@given(st.text())
def test_cleaning_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once


_printable = st.text(
    st.characters(
        blacklist_categories=["Cc", "Cs"],
        blacklist_characters="".join(BIDI),
        whitelist_characters="\n\t",
    )
)


@given(_printable)
def test_clean_text_is_kept_unchanged(text: str) -> None:
    assert clean_text(text) == text


@given(_printable, _printable)
def test_only_the_control_characters_go(left: str, right: str) -> None:
    assert clean_text(left + HOSTILE + right) == left + "[2J]8;;http://evil\\ringevilx\n" + right


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\r\nb\rc\nd", "a\nb\nc\nd"),
        ("\r\x1b\n", "\n"),  # removing the ESC must not leave a lone CR behind
        ("tab\there", "tab\there"),
        (
            "👩\u200d👩\u200d👧 family, café, עברית\u200f, 🇳🇱",
            "👩\u200d👩\u200d👧 family, café, עברית\u200f, 🇳🇱",
        ),
        ("\u202egnp.exe", "gnp.exe"),
        ("", ""),
    ],
)
def test_clean_text_examples(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


# --- every adapter path ---------------------------------------------------------------

RECEIVED = datetime(2024, 6, 1, tzinfo=UTC)


def _json(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def _jsonl(name: str) -> list[Any]:
    lines = (PAYLOADS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _x_v2(h: str) -> tuple[Any, dict[str, Any]]:
    tweet = _json("x_v2_tweet.json")
    tweet["data"]["text"] = f"@FernhillRail {h} late again #commute https://t.co/Ab12{h}"
    user = tweet["includes"]["users"][0]
    user.update(username=f"priya{h}", name=f"Priya{h}", description=f"bio{h}")
    return tweet, {}


def _mastodon(h: str) -> tuple[Any, dict[str, Any]]:
    status = _json("mastodon_status.json")
    status["content"] = f"<p>closed{h} again &#x202e;&#27;[2J</p>"
    status["spoiler_text"] = f"cw{h}"
    status["account"].update(acct=f"mira{h}", display_name=f"Mira{h}", note=f"<p>bio{h}</p>")
    return status, {}


def _bluesky(h: str) -> tuple[Any, dict[str, Any]]:
    event = _jsonl("bluesky_jetstream.jsonl")[0]
    event["commit"]["record"]["text"] = f"Volunteers {h} needed #RiverbankDay"
    return event, {}


def _reddit(h: str) -> tuple[Any, dict[str, Any]]:
    child = _json("reddit_listing.json")["data"]["children"][0]
    child["data"].update(title=f"Bins{h}", selftext=f"missed{h}", author=f"elm{h}")
    return child, {}


def _rss(h: str) -> tuple[Any, dict[str, Any]]:
    entry = {
        "id": "tag:a.example,2024:1",
        "link": "https://a.example/1",
        "title": f"Hello{h}",
        "summary": f"<p>Hi{h} <a href='https://b.example'>b</a></p>",
        "published_parsed": [2024, 3, 1, 7, 0, 0, 4, 61, 0],
        "author": f"Nia{h}",
        "tags": [{"term": f"news{h}"}],
    }
    return entry, {"feed_url": "https://a.example/feed"}


def _webhook(h: str) -> tuple[Any, dict[str, Any]]:
    push = _json("webhook.json")
    push["text"] = f"Thanks{h} @hollowbrook_library #ReadMore"
    push["author"].update(handle=f"quiet{h}", display_name=f"Ada{h}", bio=f"bio{h}")
    return push, {}


def _twcs(h: str) -> tuple[Any, dict[str, Any]]:
    row = {
        "tweet_id": "502",
        "author_id": "GlenmoorWater",
        "inbound": "False",
        "created_at": "Tue Oct 31 22:14:02 +0000 2017",
        "text": f"@900001 Sorry!{h} #outage",
        "response_tweet_id": "503",
        "in_response_to_tweet_id": "501",
    }
    return row, {"conversation_root": "500"}


def _customer_care(h: str) -> tuple[Any, dict[str, Any]]:
    turn = {
        "agent": "PixelPostHelp",
        "datetime": "2020-04-01T15:00:00.000Z",
        "message": f"@kaito we can help{h}",
        "tweet_ID": "1245380000000000001",
    }
    return turn, {"company": "PixelPostHelp"}


def _canonical(h: str) -> tuple[Any, dict[str, Any]]:
    post = {
        "id": "mastodon:1002",
        "platform": "mastodon",
        "created_at": "2024-05-01T12:05:00+02:00",
        "text": f"@wren welcome!{h} #hello",
        "author": {"id": "mastodon:8", "handle": f"ilse{h}", "display_name": f"Ilse{h}"},
        "conversation_id": "mastodon:1001",
        "mentions": ["wren", f"wren{h}"],
        "hashtags": [f"hello{h}"],
    }
    return post, {}


PATHS = {
    "x-v2": _x_v2,
    "mastodon": _mastodon,
    "bluesky-jetstream": _bluesky,
    "reddit": _reddit,
    "rss": _rss,
    "webhook": _webhook,
    "twcs-csv": _twcs,
    "customer-care-json": _customer_care,
    "canonical": _canonical,
}


def _normalize(fmt: str, hostile: str) -> CanonicalPost:
    payload, context = PATHS[fmt](hostile)
    envelope = RawEnvelope(
        ingest_id="i",
        source="test",
        format=fmt,
        received_at=RECEIVED,
        payload=payload,
        context=context,
    )
    return normalize(envelope)


def test_every_format_has_a_case() -> None:
    assert set(PATHS) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(PATHS))
def test_escape_sequences_are_stripped_on_every_adapter_path(fmt: str) -> None:
    post = _normalize(fmt, HOSTILE)
    fields = [post.text, post.url, post.lang, *post.mentions, *post.hashtags, *post.links]
    who = post.author
    for value in (*fields, who.handle, who.display_name, who.bio):
        assert_clean(value)
    assert "[2J" in post.text  # what is left of the sequence is plain text, shown as such
    assert "\n" in post.text or fmt in {"twcs-csv", "customer-care-json", "bluesky-jetstream"}


@pytest.mark.parametrize("fmt", ["x-v2", "mastodon", "reddit", "rss", "webhook", "canonical"])
def test_the_author_is_cleaned_on_adapter_paths_that_carry_one(fmt: str) -> None:
    who = _normalize(fmt, HOSTILE).author
    assert who.handle is not None and "[2J]8;;http://evil" in who.handle
    assert_clean(who.handle)


@pytest.mark.parametrize("fmt", sorted(PATHS))
def test_ids_are_the_same_as_for_a_clean_post(fmt: str) -> None:
    dirty, clean = _normalize(fmt, HOSTILE), _normalize(fmt, "")
    assert (dirty.id, dirty.conversation_id) == (clean.id, clean.conversation_id)
    assert dirty.in_reply_to == clean.in_reply_to


def test_a_clean_canonical_post_comes_back_unchanged() -> None:
    post = _normalize("canonical", "")
    assert post.mentions == ["wren", "wren"]  # a replay is not second-guessed
    assert post.text == "@wren welcome! #hello"


def test_entities_that_clean_to_duplicates_or_nothing_are_dropped() -> None:
    post = _normalize("canonical", "\x1b")
    assert post.mentions == ["wren"]
    assert post.author.handle == "ilse"
