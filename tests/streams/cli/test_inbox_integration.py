"""The analyst's inbox through the real search server: the queue, the thread, handling.

Thread documents (``ConversationView``) and post documents (``EnrichedPost``)
are indexed directly, in the shapes the index stage writes, because the views
read only the indices and each test needs exact states: a thread handled and
then answered by its author, a snooze that ends, two people's assignments.
A new post "arrives" the way the worker would deliver it: the post's
document, and the thread's document with its new last post and activity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import Isolated, Servers, isolated
from typer.testing import CliRunner, Result

from schemas.models import ConversationView, EnrichedPost, Joinability, Stakeholder
from streams.cli.main import app
from streams.es.client import sync_client
from streams.es.conversations import view_document
from streams.es.documents import post_document
from streams.es.handling import handling_index
from streams.es.indices import install
from streams.settings import get_settings

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(second=0, microsecond=0)
H = timedelta(hours=1)
ASK = "A question to us: answer it. [rule: help]"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def direct(servers: Servers, tmp_path: Path) -> Isolated:
    iso = isolated(servers, tmp_path)
    es = sync_client(iso.settings)
    try:
        install(es, iso.settings)
    finally:
        es.close()
    return iso


def _cli(iso: Isolated, *args: str, columns: int = 80, code: int = 0) -> Result:
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), env={**iso.env, "COLUMNS": str(columns)})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == code, result.output
    return result


def _queue(iso: Isolated, *args: str, now: datetime = T0) -> list[dict[str, Any]]:
    out = _cli(iso, "inbox", "--json", "--now", _iso(now), *args).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["conversation_id"] for r in rows]


@dataclass(frozen=True)
class Said:
    """One post of a thread, as the test tells it."""

    pid: str
    handle: str
    at: datetime
    text: str
    action: str = "reply"
    reason: str = ASK
    labels: tuple[str, ...] = ("citizen",)

    @property
    def url(self) -> str:
        return f"https://x.example/{self.handle}/status/{self.pid}"


def _post_doc(cid: str, said: Said) -> dict[str, Any]:
    post = EnrichedPost(
        id=f"x:{said.pid}",
        platform="x",
        url=said.url,
        created_at=said.at,
        text=said.text,
        author={"id": f"x:{said.handle.lower()}", "handle": said.handle},
        conversation_id=cid,
        joinability=Joinability(score=0.7, action=said.action, reasons=[said.reason]),
        stakeholders=[Stakeholder(label=label, score=0.8) for label in said.labels],
    )
    return post_document(post)


def _thread_doc(cid: str, posts: list[Said], waiting: Said | None) -> dict[str, Any]:
    last = posts[-1]
    ours = [p.at for p in posts if p.handle == "HarboursideBC"]
    view = ConversationView(
        conversation_id=cid,
        platform="x",
        posts=len(posts),
        participants=len({p.handle for p in posts}),
        participant_ids=sorted({f"x:{p.handle.lower()}" for p in posts}),
        own_posts=len(ours),
        last_activity=last.at,
        last_org_post_at=max(ours) if ours else None,
        awaiting_org_reply=waiting is not None,
        awaiting_since=waiting.at if waiting else None,
        awaiting_post_id=f"x:{waiting.pid}" if waiting else None,
        last_post={
            "id": f"x:{last.pid}",
            "author_id": f"x:{last.handle.lower()}",
            "handle": last.handle,
            "created_at": last.at,
            "text": last.text,
            "url": last.url,
            "action": last.action,
        },
        last_action=last.action,
        updated_at=last.at,
    )
    return view_document(view, last.at)


def _deliver(iso: Isolated, cid: str, posts: list[Said], waiting: Said | None) -> None:
    """What the worker leaves after these posts: their documents and the thread's."""
    es = sync_client(iso.settings)
    try:
        for said in posts:
            es.index(
                index=iso.settings.index_alias("posts"),
                id=f"x:{said.pid}",
                document=_post_doc(cid, said),
            )
        es.index(
            index=iso.settings.index_alias("conversations"),
            id=cid,
            document=_thread_doc(cid, posts, waiting),
        )
        es.indices.refresh(index=iso.settings.index_alias("posts"))
        es.indices.refresh(index=iso.settings.index_alias("conversations"))
    finally:
        es.close()


BINS = Said(
    "601",
    "DevPatel88",
    T0 - 5 * H,
    "@HarboursideBC bins on Marsh Lane weren't collected this morning, lorry drove "
    "straight past. Is it coming back today? #MarshEnd",
)
LIBRARY = Said("611", "reader", T0 - 2 * H, "@HarboursideBC is Quayside Library open on Sunday?")
PARKING = Said(
    "621", "HarbourEats", T0 - 1 * H, "@HarboursideBC the Dock Street pay machines are out"
)


def _three_threads(iso: Isolated) -> None:
    _deliver(iso, "x:601", [BINS], BINS)
    _deliver(iso, "x:611", [LIBRARY], LIBRARY)
    _deliver(iso, "x:621", [PARKING], PARKING)


def test_a_handled_thread_leaves_the_queue_and_a_new_post_from_them_brings_it_back(
    direct: Isolated,
) -> None:
    _three_threads(direct)
    es = sync_client(direct.settings)
    try:
        assert not es.indices.exists(index=handling_index(direct.settings))
    finally:
        es.close()
    first = _queue(direct)
    assert _ids(first) == ["x:601", "x:611", "x:621"], "longest wait first"
    assert first[0]["age"] == "5h 00m / 4h SLA" and first[0]["over_sla"] is True
    assert first[1]["age"] == "2h 00m / 4h SLA" and first[1]["over_sla"] is False

    done = _cli(direct, "handle", "x:601", "--note", "crew sent back", "--by", "ana")
    assert "handled x:601" in done.stdout
    assert f"created the handling index {handling_index(direct.settings)}" in done.stderr
    assert _ids(_queue(direct)) == ["x:611", "x:621"]
    every = _queue(direct, "--all")
    assert [(r["conversation_id"], r["state"]) for r in every] == [
        ("x:601", "handled"),
        ("x:611", "open"),
        ("x:621", "open"),
    ]

    es = sync_client(direct.settings)
    try:
        stored = es.get(index=handling_index(direct.settings), id="x:601")["_source"]
        assert not es.indices.exists_alias(name=handling_index(direct.settings))  # a plain index
    finally:
        es.close()
    assert stored["state"] == "handled" and stored["by"] == "ana"
    assert stored["note"] == "crew sent back"
    assert stored["handled_after"].startswith(BINS.at.isoformat()[:16])

    # A neighbour answers in the thread: the same wait, a newer post from the other side.
    later = Said(
        "602",
        "mags_on_marsh",
        T0 - 10 * timedelta(minutes=1),
        "same on Heron Close, third time since Christmas",
        action="listen_only",
        reason="Neither addresses us nor is about us: listen only.",
    )
    _deliver(direct, "x:601", [BINS, later], BINS)
    back = _queue(direct)
    assert _ids(back) == ["x:601", "x:611", "x:621"]
    assert back[0]["state"] == "reopened"
    assert back[0]["text"] == later.text and back[0]["text_author"] == "mags_on_marsh"
    assert back[0]["author"] == "DevPatel88" and back[0]["reason"] == ASK

    screen = _cli(direct, "inbox", "--now", _iso(T0)).stdout
    assert "reopened" in screen and "reopened by a newer post" in screen

    # Handled again, it stays out until the next newer post.
    _cli(direct, "handle", "x:601")
    assert _ids(_queue(direct)) == ["x:611", "x:621"]


def test_reopen_by_hand_puts_it_back(direct: Isolated) -> None:
    _three_threads(direct)
    _cli(direct, "handle", "x:611")
    assert "x:611" not in _ids(_queue(direct))
    again = _cli(direct, "handle", "x:611", "--reopen")
    assert "reopened x:611" in again.stdout
    assert _ids(_queue(direct)) == ["x:601", "x:611", "x:621"]


def test_a_snoozed_thread_is_hidden_until_its_time(direct: Isolated) -> None:
    _three_threads(direct)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    said = _cli(direct, "handle", "x:611", "--snooze-until", _iso(until)).stdout
    assert "snoozed x:611 until" in said
    assert _ids(_queue(direct)) == ["x:601", "x:621"]
    assert _ids(_queue(direct, now=until - timedelta(minutes=1))) == ["x:601", "x:621"]
    awake = _queue(direct, now=until)
    assert _ids(awake) == ["x:601", "x:611", "x:621"]
    assert awake[1]["state"] == "woken"
    asleep = _queue(direct, "--all")
    assert asleep[1]["state"] == "snoozed"
    assert "snoozed until" in asleep[1]["standing"]

    # A span from now works too, measured on the clock.
    before = datetime.now(UTC)
    _cli(direct, "handle", "x:621", "--snooze-until", "2h")
    es = sync_client(direct.settings)
    try:
        stored = es.get(index=handling_index(direct.settings), id="x:621")["_source"]
    finally:
        es.close()
    ends = datetime.fromisoformat(stored["until"])
    assert before + 2 * H <= ends <= datetime.now(UTC) + 2 * H
    assert _ids(_queue(direct)) == ["x:601"]


def test_assigned_filters_the_queue_to_one_persons_threads(direct: Isolated) -> None:
    _three_threads(direct)
    assert "assigned x:601 to sam" in _cli(direct, "handle", "x:601", "--assign", "sam").stdout
    _cli(direct, "handle", "x:621", "--assign", "kim")
    assert _ids(_queue(direct, "--assigned", "sam")) == ["x:601"]
    assert _ids(_queue(direct, "--assigned", "SAM")) == ["x:601"]
    assert _ids(_queue(direct, "--assigned", "kim")) == ["x:621"]
    assert _queue(direct, "--assigned", "nobody") == []
    everyone = _queue(direct)
    assert [(r["conversation_id"], r["assignee"]) for r in everyone] == [
        ("x:601", "sam"),
        ("x:611", None),
        ("x:621", "kim"),
    ], "assigned threads stay in the queue"
    # Handling an assigned thread hides it from its person's queue too, and keeps the person.
    _cli(direct, "handle", "x:601")
    assert _queue(direct, "--assigned", "sam") == []
    assert [r["assignee"] for r in _queue(direct, "--assigned", "sam", "--all")] == ["sam"]
    empty = _cli(direct, "inbox", "--assigned", "nobody", "--now", _iso(T0)).stdout
    assert "Nothing assigned to nobody waits for our reply" in empty


@pytest.mark.parametrize("columns", [80, 160])
def test_the_queue_and_the_thread_on_screen(direct: Isolated, columns: int) -> None:
    answer = Said(
        "603", "HarboursideBC", T0 - 4 * H, "@DevPatel88 sorry Dev, the crew is on its way back"
    )
    again = Said(
        "604", "DevPatel88", T0 - 3 * H, "@HarboursideBC still nothing, it's nearly dark now"
    )
    _deliver(direct, "x:601", [BINS, answer, again], again)
    _deliver(direct, "x:611", [LIBRARY], LIBRARY)
    queue = _cli(direct, "inbox", "--now", _iso(T0), columns=columns).stdout
    flat = " ".join(queue.split())
    assert "2 conversations wait for our reply, longest first (reply SLA 4h)" in flat
    assert "3h 00m / 4h SLA" in queue and "2h 00m / 4h SLA" in queue
    assert again.text in flat and LIBRARY.text in flat
    assert f"why: {ASK}" in flat
    assert f"    {again.url}" in queue.splitlines()
    assert f"    {LIBRARY.url}" in queue.splitlines()
    assert all(len(line) <= columns for line in queue.splitlines())

    thread = _cli(direct, "thread", "x:601", "--now", _iso(T0), columns=columns).stdout
    flat = " ".join(thread.split())
    assert "x:601 · x · 3 posts, 2 people" in flat
    assert f"waiting for our reply since {again.at:%Y-%m-%d %H:%M} UTC: 3h 00m / 4h SLA" in flat
    for said in (BINS, answer, again):
        assert said.text in flat
        assert f"    {said.url}" in thread.splitlines()
        assert f"{said.at:%Y-%m-%d %H:%M} UTC @{said.handle}" in flat
    assert "@HarboursideBC (us)" in flat
    assert flat.count(f"why: {ASK}") == 2  # theirs, not ours
    assert "◀ waits for us" in thread
    assert "…" not in thread
    assert all(len(line) <= columns for line in thread.splitlines())


def test_unknown_conversations_say_so_and_point_at_the_inbox(direct: Isolated) -> None:
    for command in ("thread", "handle"):
        result = _cli(direct, command, "x:nope", code=1)
        assert "no conversation 'x:nope'" in result.output
        assert "`townsquare inbox`" in result.output
        assert "Traceback" not in result.output


def test_missing_indices_say_to_run_setup(servers: Servers, tmp_path: Path) -> None:
    iso = isolated(servers, tmp_path)  # no setup: no conversations index
    result = _cli(iso, "inbox", code=1)
    assert "townsquare setup" in result.output and "Traceback" not in result.output
