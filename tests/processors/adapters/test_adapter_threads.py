"""Thread structure on the real Twitter data sets: readers + adapters rebuild the threads."""

from __future__ import annotations

import csv
import itertools
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from processors.adapters import normalize
from schemas.models import CanonicalPost, RawEnvelope
from streams.sources.readers import envelope_format, iter_records

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
TWCS = DATA / "twcs" / "sample.csv"
CARE = DATA / "customer-care" / "dev.json"


def _posts(path: Path, fmt: str) -> list[CanonicalPost]:
    if not path.exists():
        pytest.skip(f"data set not present at {path}")
    return [
        normalize(
            RawEnvelope(
                ingest_id=str(record.position),
                source="replay",
                format=envelope_format(fmt),
                received_at=datetime.now(UTC),
                payload=record.payload,
                context=record.context,
            )
        )
        for record in iter_records(path, fmt)
    ]


def _independent_roots(rows: list[dict[str, str]]) -> dict[str, str]:
    """Naive walk, written separately from the reader's memoised one."""
    parent = {
        r["tweet_id"]: r["in_response_to_tweet_id"].removesuffix(".0")
        for r in rows
        if r["in_response_to_tweet_id"]
    }
    roots = {}
    for row in rows:
        current, steps = row["tweet_id"], 0
        while current in parent and steps < len(rows) + 1:
            current, steps = parent[current], steps + 1
        roots[row["tweet_id"]] = current
    return roots


def test_twcs_sample_threads() -> None:
    posts = _posts(TWCS, "twcs-csv")
    with TWCS.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(posts) == len(rows)
    by_id = {r["tweet_id"]: r for r in rows}
    roots = _independent_roots(rows)
    replies = 0
    for post, row in zip(posts, rows, strict=True):
        native = row["tweet_id"]
        assert post.id == f"x:{native}"
        assert post.conversation_id == f"x:{roots[native]}"
        parent = row["in_response_to_tweet_id"]
        if parent:
            replies += 1
            assert post.in_reply_to is not None
            assert post.in_reply_to.post_id == f"x:{parent}"
            expected_author = f"x:{by_id[parent]['author_id']}" if parent in by_id else None
            assert post.in_reply_to.author_id == expected_author
        else:
            assert post.in_reply_to is None
    assert replies > 30, "the sample is mostly threads"
    # A thread that spans several tweets in the file shares one conversation.
    sizes = defaultdict(int)
    for post in posts:
        sizes[post.conversation_id] += 1
    assert max(sizes.values()) >= 3


def test_customer_care_dialogs() -> None:
    posts = _posts(CARE, "customer-care-json")
    dialogs = json.loads(CARE.read_text(encoding="utf-8"))
    by_id = defaultdict(list)
    for post in posts:
        by_id[post.id].append(post)
    cursor = 0
    conversations: dict[str, str] = {}
    for index, dialog in enumerate(dialogs):
        turns = [t["tweet_ID"] for t in dialog["dialogContent"]]
        closing = dialog["agentURL"]["tweet_ID"]
        expected_ids = [*turns, closing] if closing not in turns else turns
        chunk = posts[cursor : cursor + len(expected_ids)]
        cursor += len(expected_ids)
        assert [p.id for p in chunk] == [f"x:{t}" for t in expected_ids]
        # All turns share one conversation: the first turn's tweet.
        assert {p.conversation_id for p in chunk} == {f"x:{turns[0]}"}
        assert chunk[0].in_reply_to is None
        for previous, post in itertools.pairwise(chunk):
            assert post.in_reply_to is not None
            assert post.in_reply_to.post_id == previous.id
            assert post.in_reply_to.author_id == previous.author.id
        agent_turns = [p for p in chunk if p.author.handle]
        assert chunk[-1] in agent_turns, "the closing turn is the support account's"
        assert {p.author.id for p in agent_turns} <= {f"x:{dialog['dialogHeader']['company']}"}
        clients = {p.author.id for p in chunk if p not in agent_turns}
        assert all(a.startswith(f"x:anon-{turns[0]}-client") for a in clients)
        conversations[chunk[0].conversation_id] = dialog["dialogHeader"]["sessionID"]
        assert index >= 0
    assert cursor == len(posts)
    # Distinct dialogs (distinct first tweets) never share a conversation id; the file
    # holds a few copies of the same dialog (same tweets, other session id), which are
    # rightly one conversation.
    first_tweets = {d["dialogContent"][0]["tweet_ID"] for d in dialogs}
    assert len(conversations) == len(first_tweets)
    assert len(dialogs) - len(first_tweets) <= 5


def test_customer_care_times_are_utc_and_ordered() -> None:
    posts = _posts(CARE, "customer-care-json")
    assert all(p.created_at.utcoffset() is not None for p in posts)
    assert all(p.created_at.utcoffset().total_seconds() == 0 for p in posts)  # type: ignore[union-attr]
    by_conversation: dict[str, dict[str, CanonicalPost]] = defaultdict(dict)
    for post in posts:  # copies of a dialog repeat its posts: keep each post once
        by_conversation[post.conversation_id].setdefault(post.id, post)
    # Closing-turn times come from the tweet id; the file's own turns carry theirs.
    # Either way a reply is never older than what it answers.
    for thread in by_conversation.values():
        times = [p.created_at for p in thread.values()]
        assert times == sorted(times)
