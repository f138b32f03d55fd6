"""Property tests: bad input of any shape ends as AdapterError, good posts round-trip.

The bad-payload test runs 1,200 examples for each of the nine formats (10,800
in total). Each example is a recorded payload of that format with one random
spot replaced (any JSON value, a wrong type, a huge or odd string, deep
nesting) or deleted, or a payload of random JSON altogether.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.adapters import FORMATS, AdapterError, decode_envelope, normalize
from processors.adapters.errors import REASONS
from schemas.models import Author, CanonicalPost, Metrics, RawEnvelope, ReplyTarget

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"
EXAMPLES_PER_FORMAT = 1_200
RECEIVED = datetime(2024, 6, 1, tzinfo=UTC)


def _jsonl(name: str) -> list[Any]:
    lines = (PAYLOADS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _json(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


CANONICAL = {
    "id": "mastodon:1002",
    "platform": "mastodon",
    "created_at": "2024-05-01T12:05:00+02:00",
    "text": "@wren welcome! #hello https://a.example",
    "author": {"id": "mastodon:8", "handle": "ilse", "followers": 3},
    "conversation_id": "mastodon:1001",
    "in_reply_to": {"post_id": "mastodon:1001", "author_id": "mastodon:7"},
}
TWCS_ROW = {
    "tweet_id": "502",
    "author_id": "GlenmoorWater",
    "inbound": "False",
    "created_at": "Tue Oct 31 22:14:02 +0000 2017",
    "text": "@900001 Sorry! #outage",
    "response_tweet_id": "503",
    "in_response_to_tweet_id": "501",
}
CARE_TURN = {
    "client": "kaito",
    "datetime": "2020-04-01T15:00:00.000Z",
    "message": "@PixelPostHelp help",
    "tweet_ID": "1245380000000000001",
}
RSS_ENTRY = {
    "id": "tag:a.example,2024:1",
    "link": "https://a.example/1",
    "title": "Hello",
    "summary": "<p>Hi <a href='https://b.example'>b</a></p>",
    "published_parsed": [2024, 3, 1, 7, 0, 0, 4, 61, 0],
    "author": "Nia",
    "thr_in-reply-to": {"ref": "tag:a.example,2024:0"},
    "tags": [{"term": "news"}],
}

SEEDS: dict[str, list[Any]] = {
    "canonical": [CANONICAL],
    "twcs-csv": [TWCS_ROW],
    "customer-care-json": [CARE_TURN],
    "x-v2": [_json("x_v2_tweet.json"), *_jsonl("x_v2_stream.jsonl")],
    "mastodon": [_json("mastodon_status.json"), *_jsonl("mastodon_stream.jsonl")[2:4]],
    "bluesky-jetstream": _jsonl("bluesky_jetstream.jsonl")[:4],
    "reddit": _json("reddit_listing.json")["data"]["children"][:4],
    "rss": [RSS_ENTRY],
    "webhook": [_json("webhook.json")],
}
CONTEXTS: dict[str, dict[str, Any]] = {
    "twcs-csv": {"conversation_root": "500", "in_reply_to_author": "900001"},
    "customer-care-json": {
        "conversation_id": "1245380000000000001",
        "company": "PixelPostHelp",
        "in_reply_to": "1245370000000000000",
        "in_reply_to_role": "agent",
        "in_reply_to_name": "PixelPostHelp",
    },
    "rss": {"feed_url": "https://a.example/feed", "comments_for": "tag:a.example,2024:0"},
}

_odd_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\ud800",
            "null",
            "2024-02-30T00:00:00Z",
            "Tue Oct 31 99:10:47 +0000 2017",
            "at://did:plc:x",
            "t3_",
            "delete",
            "status.update",
            "commit",
            "create",
            "app.bsky.feed.post",
            "replied_to",
            "agent",
            "<p><a href='https://x.example' class='mention'>@x</a><br/>",
            "<![if !x]>",
            "9" * 5000,
        ]
    ),
    st.builds(lambda n: "x" * n, st.sampled_from([513, 20_001, 100_001])),
)
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _odd_text,
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(string.ascii_letters + "_$.", max_size=12), inner, max_size=4),
    ),
    max_leaves=12,
)
_deep = st.integers(min_value=60, max_value=400).map(lambda n: json.loads("[" * n + "]" * n))
_replacements = st.one_of(_json_values, _deep)
_DELETE = object()
# Strategies are built once: building them inside the draw costs more than the test.
_one_in_ten = st.integers(0, 9)
_step = st.integers(0, 3)
_pick = st.integers(0, 1 << 16)
_new_value = st.one_of(st.just(_DELETE), _replacements)
_flag = st.booleans()
_seed_index = st.integers(0, 100)


@st.composite
def _mutated(draw: st.DrawFn, fmt: str) -> Any:
    """A seed payload of ``fmt`` with one spot, found by a random walk, replaced or deleted."""
    if draw(_one_in_ten) == 0:
        return draw(_replacements)
    seeds = SEEDS[fmt]
    payload = json.loads(json.dumps(seeds[draw(_seed_index) % len(seeds)]))
    holder: Any = None
    key: Any = None
    node = payload
    while isinstance(node, dict | list) and node and draw(_step) > 0:
        keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
        holder, key = node, keys[draw(_pick) % len(keys)]
        node = node[key]
    new = draw(_new_value)
    if holder is None:
        return None if new is _DELETE else new
    if new is _DELETE:
        del holder[key]
    else:
        holder[key] = new
    if isinstance(node, str) and draw(_flag):
        # Some formats accept the payload as a JSON string: exercise that path too.
        return json.dumps(payload)
    return payload


_MUTATED = {fmt: _mutated(fmt) for fmt in SEEDS}
_CONTEXT_MUTATIONS = {
    fmt: st.dictionaries(st.sampled_from(list(CONTEXTS.get(fmt, {})) or ["x"]), _json_values)
    for fmt in SEEDS
}
_one_in_eight = st.integers(0, 7)


def _envelope(fmt: str, payload: Any, context: dict[str, Any]) -> RawEnvelope:
    return RawEnvelope(
        ingest_id="i",
        source="property",
        format=fmt,
        received_at=RECEIVED,
        payload=payload,
        context=context,
    )


def _normalize_or_adapter_error(envelope: RawEnvelope) -> None:
    try:
        post = normalize(envelope)
    except AdapterError as exc:
        assert exc.reason in REASONS
        return
    # Whatever comes out is a valid, publishable post.
    assert post.id.startswith(f"{post.platform}:")
    assert post.created_at.utcoffset() is not None
    assert post.created_at.utcoffset() == timedelta(0)
    assert len(post.text) <= 20_000
    post.model_dump_json()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_seeds_are_valid(fmt: str) -> None:
    """The mutation test is only meaningful if its starting points normalize."""
    for seed in SEEDS[fmt]:
        normalize(_envelope(fmt, seed, CONTEXTS.get(fmt, {})))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(
    max_examples=EXAMPLES_PER_FORMAT,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_bad_payloads_only_raise_adapter_error(fmt: str, data: st.DataObject) -> None:
    payload = data.draw(_MUTATED[fmt], label="payload")
    context = CONTEXTS.get(fmt, {})
    if data.draw(_one_in_eight, label="mutate context") == 0:
        context = data.draw(_CONTEXT_MUTATIONS[fmt], label="context")
    _normalize_or_adapter_error(_envelope(fmt, payload, context))


@settings(max_examples=300, deadline=None, database=None)
@given(fmt=st.one_of(st.text(max_size=20), st.sampled_from(["CANONICAL", "x", "rss "])))
def test_unknown_formats(fmt: str) -> None:
    if fmt in FORMATS:
        return
    with pytest.raises(AdapterError) as err:
        normalize(_envelope(fmt, CANONICAL, {}))
    assert err.value.reason == "unknown_format"


_envelope_dicts = st.fixed_dictionaries(
    {
        "ingest_id": st.one_of(st.text(max_size=8), _json_values),
        "source": st.text(max_size=8),
        "format": st.sampled_from(sorted(FORMATS)),
        "received_at": st.one_of(st.just("2024-06-01T00:00:00Z"), _json_values),
        "payload": _replacements,
    },
    optional={
        "context": st.one_of(st.dictionaries(st.text(max_size=5), _json_values), _json_values)
    },
)


@settings(max_examples=800, deadline=None, database=None)
@given(
    raw=st.one_of(
        st.binary(max_size=200),
        _json_values.map(lambda v: json.dumps(v).encode()),
        _envelope_dicts.map(lambda v: json.dumps(v).encode()),
        _envelope_dicts.map(lambda v: json.dumps(v).encode()[:-3] + b"\xc3\x28\xff"),
        st.integers(50, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.integers(50, 3000).map(lambda n: b"[" * n),
    )
)
def test_decode_then_normalize_only_raise_adapter_error(raw: bytes) -> None:
    try:
        envelope = decode_envelope(raw, max_bytes=64_000)
    except AdapterError as exc:
        assert exc.reason in REASONS
        return
    _normalize_or_adapter_error(envelope)


# Normalizing strips control and bidi characters (clean_text), so valid posts have none.
_BIDI = "".join(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
_names = st.text(
    st.characters(blacklist_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], blacklist_characters=_BIDI),
    min_size=1,
    max_size=12,
)
# Ids also refuse format characters (soft hyphen, zero-width joiners): see check_id.
_id_names = st.text(
    st.characters(blacklist_categories=["Cs", "Cc", "Cf", "Zs", "Zl", "Zp"]),
    min_size=1,
    max_size=12,
)
_times = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2199, 1, 1),
    timezones=st.sampled_from([UTC, None]),
)
_posts = st.builds(
    CanonicalPost,
    kind=st.sampled_from(["post", "edit", "delete"]),
    id=_id_names.map(lambda n: f"mastodon:{n}"),
    platform=st.just("mastodon"),
    url=st.none() | st.just("https://a.example/1"),
    created_at=_times,
    lang=st.none() | st.sampled_from(["en", "nl"]),
    text=st.text(
        st.characters(
            blacklist_categories=["Cs", "Cc"],
            blacklist_characters=_BIDI,
            whitelist_characters="\n\t",
        ),
        max_size=200,
    ),
    author=st.builds(
        Author,
        id=_id_names.map(lambda n: f"mastodon:{n}"),
        handle=st.none() | _names,
        followers=st.none() | st.integers(0, 10**9),
        verified=st.booleans(),
    ),
    conversation_id=_id_names.map(lambda n: f"mastodon:{n}"),
    in_reply_to=st.none()
    | st.builds(
        ReplyTarget,
        post_id=_id_names.map(lambda n: f"mastodon:{n}"),
        author_id=st.none() | _id_names.map(lambda n: f"mastodon:{n}"),
    ),
    mentions=st.lists(_names, max_size=3),
    hashtags=st.lists(_names, max_size=3),
    links=st.lists(st.just("https://a.example/x"), max_size=2),
    metrics=st.builds(Metrics, likes=st.integers(0, 10**6), shares=st.integers(0, 10**6)),
)


@settings(max_examples=400, deadline=None, database=None)
@given(post=_posts, as_string=st.booleans())
def test_valid_posts_round_trip_through_canonical(post: CanonicalPost, as_string: bool) -> None:
    line = post.model_dump_json()
    payload = line if as_string else json.loads(line)
    envelope = decode_envelope(
        _envelope("canonical", payload, {}).model_dump_json().encode(), max_bytes=1 << 20
    )
    again = normalize(envelope)
    assert again == post.model_copy(update={"ingest_id": "i", "received_at": RECEIVED})
