"""Erase a person: ``townsquare forget AUTHOR [--platform P]``.

The order of the steps is the guarantee:

1. **Record the erasure** on the compacted ``privacy.erasures`` topic and wait
   for the broker's acknowledgement. From then on every normalize and enrich
   worker drops the person's new posts (counted as ``withheld_erased``), so
   nothing new is stored while the rest runs.
2. **Find what is stored**: every document of theirs in every index of every
   family (posts by author id or handle, alerts by handle or post id), through
   the families' index patterns, so documents in indices an ILM rollover
   retired are found too.
3. **Tell the pipeline**: for each post, a delete on ``posts.normalized``
   keyed by its conversation (so it queues behind any of their posts still in
   flight there). Enrich removes it from the conversation state, erases the
   author from that state altogether, and publishes the tombstone on
   ``posts.enriched`` that subscribers and the index stage act on; a forget
   on ``posts.by_id`` makes locate drop the post's entry (a changelog
   tombstone).
4. **Delete the documents** at once, each in the concrete index that holds it,
   rather than waiting for the pipeline. The conversations index holds one
   document per thread, which stays for the others in it: every document
   naming the person (``participant_ids``, ``last_post``) is scrubbed at once
   instead (their id, a last post of theirs, pointers at their posts;
   written with optimistic concurrency, so a newer view from the pipeline is
   never overwritten with an older one), and the pipeline's erased view
   replaces it soon after. A thread that names them although none of their
   posts is stored (a post the index refused, say) gets a delete of its own
   on ``posts.normalized`` too, so enrich erases them from that thread's
   state and view as well.
5. **Sweep again** after ``settle`` seconds: a post that was already past
   normalize and enrich when the erasure was recorded can land in the index
   after step 2 looked; the sweep finds and removes it the same way.
6. **Audit**: one document in ``<prefix>-audit``: who asked, when, the
   subjects, what was removed per family, the post ids, and counts.

A second run finds nothing, removes nothing, says so, and is audited too.
When the deployment runs pseudonymised, the subject is hashed with the same
key before anything is looked up or recorded, so the person's name is never
written anywhere by this command.

What it cannot reach: copies in the raw and normalized topics and the
dead-letter topic, which age out with ``retention.ms`` (see docs/privacy.md).
"""

from __future__ import annotations

import getpass
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError, helpers
from kafka import KafkaAdminClient, KafkaProducer

from processors.erasure import subject_forms
from processors.profile import normalize_handle
from schemas.models import Author, CanonicalPost, Erasure, message_headers
from streams.kafka_config import kafka_python_config
from streams.settings import Settings
from streams.steps.locate import forget_record
from streams.topic_names import BY_ID, ERASURES, NORMALIZED

SEND_TIMEOUT = 30.0
"""Seconds to wait for the broker to acknowledge each record."""

_SHAPES = {NORMALIZED: "canonical_post", BY_ID: "locator", ERASURES: "erasure"}
"""Topic -> the value's shape, for the kind header (docs/consumers.md)."""


class ForgetError(RuntimeError):
    """The erasure could not be carried out; the message says what to do."""


@dataclass(frozen=True)
class StoredPost:
    """One stored document of the person: where it is and what the pipeline needs."""

    family: str
    index: str
    id: str
    post_id: str | None
    conversation_id: str | None
    platform: str | None
    author_id: str | None
    handle: str | None


@dataclass
class ForgetReport:
    subjects: list[str]
    platform: str | None
    requested_by: str
    requested_at: datetime
    removed: Counter[str] = field(default_factory=Counter)
    post_ids: list[str] = field(default_factory=list)
    conversations: set[str] = field(default_factory=set)
    late: int = 0
    first_requested_at: datetime | None = None
    scrubbed: int = 0
    """Conversations documents cleaned of the person (they stay, for the others)."""

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    def audit_document(self, pseudonymised: bool) -> dict[str, Any]:
        return {
            "action": "forget",
            "requested_at": self.requested_at.isoformat(),
            "completed_at": datetime.now(UTC).isoformat(),
            "requested_by": self.requested_by,
            "subjects": self.subjects,
            "platform": self.platform,
            "pseudonymised": pseudonymised,
            "removed": dict(self.removed),
            "removed_total": self.total,
            "post_ids": self.post_ids,
            "conversations": len(self.conversations),
            "removed_late": self.late,
        }


def audit_index(settings: Settings) -> str:
    return settings.index_alias("audit")


def subjects_for(settings: Settings, author: str) -> list[str]:
    """The forms of ``author`` to record and search: hashed when the deployment pseudonymises.

    An id (``platform:native``) could also be a handle on some platforms, so
    both hashed forms are used; clear-text subjects match ids and handles as is.
    """
    author = author.strip()
    if not author:
        raise ForgetError("AUTHOR is empty: give an author id (platform:id) or a handle")
    if not settings.pseudonymise:
        # Ids (platform:native) are exact; a handle is kept normalized, so "@Alice" and
        # "alice" are one erasure (one topic key) and one audit trail.
        return [author if ":" in author else normalize_handle(author)]
    from processors.privacy import Pseudonymiser

    assert settings.pseudonym_key is not None  # Settings refuses pseudonymise without a key
    pseudonymiser = Pseudonymiser(settings.pseudonym_key.get_secret_value().encode())
    forms = [pseudonymiser.handle(author)]
    if ":" in author:
        forms.insert(0, pseudonymiser.author_id(author))
    return forms


def _person_query(
    family: str, subjects: Iterable[str], platform: str | None, post_ids: Iterable[str] = ()
) -> dict[str, Any]:
    should: list[dict[str, Any]] = []
    for subject in subjects:
        as_id, as_handle = subject_forms(subject)
        handle_field = "author_handle" if family == "alerts" else "author.handle"
        should.append({"term": {handle_field: {"value": as_handle, "case_insensitive": True}}})
        if family == "alerts":
            # A spike alert names the handles and posts that drove it: it goes as a whole.
            should.append(
                {"term": {"spike.authors": {"value": as_handle, "case_insensitive": True}}}
            )
        else:
            should.append({"term": {"author.id": as_id}})
    ids = list(post_ids)
    if family == "alerts" and ids:
        should.append({"terms": {"post_id": ids}})
        should.append({"terms": {"spike.post_ids": ids}})
    query: dict[str, Any] = {"bool": {"should": should, "minimum_should_match": 1}}
    if platform:
        query["bool"]["filter"] = [{"term": {"platform": platform}}]
    return query


FAMILIES: tuple[str, ...] = ("posts", "alerts")
"""Index families that hold people's posts; posts first, since alerts are found by post id."""

_SOURCE = ["id", "post_id", "conversation_id", "platform", "author.id", "author.handle"]


def find_stored(
    es: Elasticsearch, settings: Settings, subjects: list[str], platform: str | None
) -> list[StoredPost]:
    """Every stored document of the subjects, in every index of every family."""
    found: list[StoredPost] = []
    post_ids: list[str] = []
    for family in FAMILIES:
        query = _person_query(family, subjects, platform, post_ids)
        for hit in helpers.scan(
            es,
            index=f"{settings.index_alias(family)}-*",
            query={"query": query, "_source": _SOURCE},
            size=500,
            ignore_unavailable=True,
            allow_no_indices=True,
        ):
            src = hit.get("_source") or {}
            author = src.get("author") or {}
            stored = StoredPost(
                family=family,
                index=hit["_index"],
                id=hit["_id"],
                post_id=src.get("id") if family == "posts" else src.get("post_id"),
                conversation_id=src.get("conversation_id"),
                platform=src.get("platform"),
                author_id=author.get("id"),
                handle=author.get("handle") or src.get("author_handle"),
            )
            found.append(stored)
            if family == "posts" and stored.post_id:
                post_ids.append(stored.post_id)
    return found


def _delete_documents(es: Elasticsearch, stored: list[StoredPost]) -> Counter[str]:
    """Delete each document in the index that holds it; counts per family."""
    removed: Counter[str] = Counter()
    if not stored:
        return removed
    actions = [{"_op_type": "delete", "_index": s.index, "_id": s.id} for s in stored]
    families = {(s.index, s.id): s.family for s in stored}
    for ok, item in helpers.streaming_bulk(
        es, actions, raise_on_error=False, ignore_status=(404,), refresh=True
    ):
        result = item["delete"]
        if ok and result.get("result") == "deleted":
            removed[families[(result["_index"], result["_id"])]] += 1
        elif not ok and result.get("status") != 404:
            raise ForgetError(f"Elasticsearch refused a delete: {result.get('error')}")
    return removed


class _Outbox:
    """A kafka-python producer whose every send is waited for: a record counts once acked."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = KafkaProducer(
            client_id="townsquare-forget",
            acks="all",
            retries=10,
            max_in_flight_requests_per_connection=1,
            **kafka_python_config(settings),
        )
        self.pending: list[Any] = []

    def send(self, topic: str, key: str, value: bytes) -> None:
        """Queue one record with the headers every townsquare message carries."""
        full = self.settings.topic(topic)
        shape = _SHAPES.get(topic, topic)
        headers = message_headers(value, shape)
        self.pending.append(
            self.producer.send(full, key=key.encode(), value=value, headers=headers)
        )

    def confirm(self) -> None:
        """Raise unless every record sent so far was acknowledged by the broker."""
        self.producer.flush(timeout=SEND_TIMEOUT)
        for future in self.pending:
            future.get(timeout=SEND_TIMEOUT)
        self.pending.clear()

    def close(self) -> None:
        self.producer.close(timeout=10)


def _pipeline_messages(outbox: _Outbox, stored: Iterable[StoredPost], now: datetime) -> None:
    for s in stored:
        if s.family != "posts" or not s.post_id or not s.conversation_id or not s.author_id:
            continue
        delete = CanonicalPost(
            kind="delete",
            id=s.post_id,
            platform=s.platform or s.post_id.split(":", 1)[0],
            created_at=now,
            author=Author(id=s.author_id, handle=s.handle),
            conversation_id=s.conversation_id,
        )
        outbox.send(NORMALIZED, s.conversation_id, delete.model_dump_json().encode())
        outbox.send(BY_ID, s.post_id, forget_record(s.post_id))


@dataclass(frozen=True)
class StoredView:
    """A conversations document that names the person: where it is and which version."""

    index: str
    id: str
    seq_no: int
    primary_term: int
    source: dict[str, Any]


@dataclass(frozen=True)
class Identity:
    """What the person is known by in stored documents: author ids, handles, post ids."""

    author_ids: frozenset[str]
    handles: frozenset[str]
    post_ids: frozenset[str]


def _identity(subjects: Iterable[str], stored: Iterable[StoredPost]) -> Identity:
    ids: set[str] = set()
    handles: set[str] = set()
    for subject in subjects:
        as_id, as_handle = subject_forms(subject)
        if ":" in as_id:
            ids.add(as_id)
        handles.add(as_handle)
    posts: set[str] = set()
    for s in stored:
        if s.family != "posts":
            continue
        if s.author_id:
            ids.add(s.author_id)
        if s.handle:
            handles.add(normalize_handle(s.handle))
        if s.post_id:
            posts.add(s.post_id)
    return Identity(frozenset(ids), frozenset(handles), frozenset(posts))


def _views_query(who: Identity, platform: str | None) -> dict[str, Any]:
    should: list[dict[str, Any]] = [
        {"term": {"last_post.handle": {"value": h, "case_insensitive": True}}}
        for h in sorted(who.handles)
    ]
    if who.author_ids:
        ids = sorted(who.author_ids)
        should += [{"terms": {"participant_ids": ids}}, {"terms": {"last_post.author_id": ids}}]
    if who.post_ids:
        posts = sorted(who.post_ids)
        should += [
            {"terms": {"last_post.id": posts}},
            {"terms": {"awaiting_post_id": posts}},
            {"terms": {"best_post_id": posts}},
        ]
    query: dict[str, Any] = {"bool": {"should": should, "minimum_should_match": 1}}
    if platform:
        query["bool"]["filter"] = [{"term": {"platform": platform}}]
    return query


def find_views(
    es: Elasticsearch, settings: Settings, who: Identity, platform: str | None
) -> list[StoredView]:
    """Every conversations document that names the person, in every index of the family."""
    found: list[StoredView] = []
    for hit in helpers.scan(
        es,
        index=f"{settings.index_alias('conversations')}-*",
        query={"query": _views_query(who, platform), "seq_no_primary_term": True},
        size=500,
        ignore_unavailable=True,
        allow_no_indices=True,
    ):
        found.append(
            StoredView(
                hit["_index"],
                hit["_id"],
                int(hit["_seq_no"]),
                int(hit["_primary_term"]),
                dict(hit.get("_source") or {}),
            )
        )
    return found


SCRUB_ATTEMPTS = 5
"""Reads and writes of one document before giving up: the pipeline may be rewriting it."""


def _scrub_views(es: Elasticsearch, views: Iterable[StoredView], who: Identity) -> int:
    """Clean each document of the person in place; how many were changed.

    Written only over the version read (``if_seq_no``): a view the pipeline
    wrote in between is read again and cleaned again, never overwritten by
    the older one.
    """
    from streams.es.conversations import scrub_document

    scrubbed = 0
    for view in views:
        current: StoredView | None = view
        for _attempt in range(SCRUB_ATTEMPTS):
            assert current is not None
            clean = scrub_document(current.source, who.author_ids, who.handles, who.post_ids)
            if clean is None:
                break  # the pipeline's erased view got there first
            try:
                es.index(
                    index=current.index,
                    id=current.id,
                    document=clean,
                    if_seq_no=current.seq_no,
                    if_primary_term=current.primary_term,
                    refresh=True,
                )
                scrubbed += 1
                break
            except ConflictError:
                try:
                    got = es.get(index=current.index, id=current.id)
                except NotFoundError:
                    break  # the thread is gone altogether
                current = StoredView(
                    current.index,
                    current.id,
                    int(got["_seq_no"]),
                    int(got["_primary_term"]),
                    dict(got["_source"]),
                )
        else:
            raise ForgetError(
                f"the conversations document {view.id} kept changing while it was cleaned; "
                "run forget again"
            )
    return scrubbed


def _view_erasures(
    outbox: _Outbox, views: Iterable[StoredView], stored: Iterable[StoredPost], now: datetime
) -> None:
    """A delete for each thread that names the person although no post of theirs is stored.

    The enrich stage erases a person from a thread's state when it applies a
    delete of theirs, so such a thread needs one too: of their last post when
    the document shows it, else of an id no post has (``erasure:<thread>``),
    which the state records as deleted (harmlessly) before it erases them.
    """
    reached = {s.conversation_id for s in stored if s.family == "posts"}
    for view in views:
        doc = view.source
        conversation = doc.get("conversation_id")
        last = doc.get("last_post") or {}
        author = last.get("author_id")
        if not conversation or conversation in reached or not author:
            continue
        delete = CanonicalPost(
            kind="delete",
            id=str(last.get("id") or f"erasure:{conversation}"),
            platform=str(doc.get("platform") or conversation.split(":", 1)[0]),
            created_at=now,
            author=Author(id=str(author), handle=last.get("handle")),
            conversation_id=str(conversation),
        )
        outbox.send(NORMALIZED, str(conversation), delete.model_dump_json().encode())


def _check_topic(settings: Settings) -> None:
    admin = KafkaAdminClient(client_id="townsquare-forget", **kafka_python_config(settings))
    try:
        if settings.topic(ERASURES) not in set(admin.list_topics()):
            raise ForgetError(
                f"the erasure topic {settings.topic(ERASURES)} does not exist: run "
                "`townsquare setup` (it creates it compacted), then forget again"
            )
    finally:
        admin.close()


def _ensure_audit_index(es: Elasticsearch, settings: Settings) -> None:
    name = audit_index(settings)
    if es.indices.exists(index=name):
        return
    mapping = json.loads(
        files("schemas").joinpath("elasticsearch", "audit.mapping.json").read_text()
    )
    es.options(ignore_status=400).indices.create(index=name, **mapping)


def _first_request(es: Elasticsearch, settings: Settings, subjects: list[str]) -> datetime | None:
    name = audit_index(settings)
    if not es.indices.exists(index=name):
        return None
    resp = es.search(
        index=name,
        query={"terms": {"subjects": subjects}},
        sort=[{"requested_at": "asc"}],
        size=1,
    )
    hits = resp["hits"]["hits"]
    return datetime.fromisoformat(hits[0]["_source"]["requested_at"]) if hits else None


def forget(
    settings: Settings,
    author: str,
    *,
    platform: str | None = None,
    requested_by: str | None = None,
    settle: float = 10.0,
    on_step: Callable[[str], None] = lambda _: None,
    es: Elasticsearch | None = None,
) -> ForgetReport:
    """Carry out one erasure request (steps in the module docstring); raises ForgetError."""
    from streams.es.client import sync_client

    subjects = subjects_for(settings, author)
    now = datetime.now(UTC)
    report = ForgetReport(
        subjects=subjects,
        platform=platform,
        requested_by=requested_by or getpass.getuser(),
        requested_at=now,
    )
    client = es or sync_client(settings)
    _check_topic(settings)
    outbox = _Outbox(settings)
    try:
        report.first_requested_at = _first_request(client, settings, subjects)
        on_step("recording the erasure")
        for subject in subjects:
            record = Erasure(
                subject=subject,
                platform=platform,
                requested_at=report.first_requested_at or now,
                requested_by=report.requested_by,
            )
            outbox.send(ERASURES, record.key(), record.model_dump_json().encode())
        outbox.confirm()
        seen: list[StoredPost] = []
        for sweep in range(2):
            if sweep:
                on_step(f"waiting {settle:.0f} s for posts in flight, then sweeping again")
                time.sleep(settle)
            on_step("finding stored posts")
            stored = find_stored(client, settings, subjects, platform)
            seen += stored  # the second sweep still knows the ids the first one found
            who = _identity(subjects, seen)
            views = find_views(client, settings, who, platform)
            _pipeline_messages(outbox, stored, now)
            _view_erasures(outbox, views, stored, now)
            outbox.confirm()
            on_step(f"deleting {len(stored)} documents")
            removed = _delete_documents(client, stored)
            report.removed.update(removed)
            report.post_ids += [s.post_id for s in stored if s.family == "posts" and s.post_id]
            report.conversations |= {s.conversation_id for s in stored if s.conversation_id}
            on_step(f"cleaning {len(views)} conversations documents")
            report.scrubbed += _scrub_views(client, views, who)
            report.conversations |= {
                str(v.source["conversation_id"]) for v in views if v.source.get("conversation_id")
            }
            if sweep:
                report.late = sum(removed.values())
        on_step("writing the audit record")
        _ensure_audit_index(client, settings)
        client.index(
            index=audit_index(settings),
            document=report.audit_document(settings.pseudonymise),
            refresh=True,
        )
    finally:
        outbox.close()
        if es is None:
            client.close()
    return report
