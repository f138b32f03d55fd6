"""Message models: the single source of truth for every topic's payload.

The JSON Schema files under ``schemas/json/`` are generated from these classes
(``townsquare schemas export``) and a test fails when they drift, because other
services read those files rather than this code. Bump ``SCHEMA_VERSION`` and
add a line to ``schemas/CHANGELOG.md`` on any change to a published model.

Models are strict about shape (``extra="forbid"`` on what we publish) so a bug
upstream surfaces as a dead letter instead of a silently different document.
The *published* JSON Schemas are not: ``schemas.export`` drops
``additionalProperties: false`` from them, because the contract with
subscribers is forward-compatible (a minor version may add an optional field,
consumers ignore fields they do not know). Strictness protects our own
pipeline, where producer and consumer ship together; it would break every
subscriber that validates against an older minor version.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = "1.4.0"

SCHEMA_VERSION_HEADER = "townsquare-schema-version"
"""Kafka header on every message townsquare publishes: the SCHEMA_VERSION it was written with."""
KIND_HEADER = "townsquare-kind"
"""Kafka header naming the value's shape, so a consumer can route before it parses the JSON."""

StakeholderLabel = Literal[
    "customer",
    "citizen",
    "influencer",
    "media",
    "employee",
    "partner",
    "investor",
    "official",
    "competitor",
]
Action = Literal["reply", "appreciate", "escalate", "listen_only", "do_not_engage"]
MessageKind = Literal["post", "edit", "delete"]
EnrichedKind = Literal["post", "edit"]
"""An enriched post is never a delete: deletes are published as :class:`PostDeleted`."""

COMPONENT_NAMES = (
    "relevance",
    "invitation",
    "engagement",
    "openness",
    "freshness",
    "share_of_voice",
    "sensitivity",
    "hostility",
    "spam",
    "own_post",
)
"""The keys of ``Joinability.components``: six positives, then four penalties.

See docs/joinability.md; processors.joinability scores exactly these.
"""

_COMPONENT_DESCRIPTIONS = {
    "relevance": "Positive: the post addresses, names or is on a topic of us.",
    "invitation": "Positive: it invites an answer (a reply to us, a mention, a question).",
    "engagement": "Positive: the other side is engaged in the thread.",
    "openness": "Positive: the thread is public, active and not dominated by one voice.",
    "freshness": "Positive: halves every half reply window of age.",
    "share_of_voice": "Positive: we have room to speak (we have not posted unanswered).",
    "sensitivity": "Penalty: a personal or profile-sensitive topic.",
    "hostility": "Penalty: threat, abuse, hate, a pile-on or offensive language.",
    "spam": "Penalty: spam or tag/link stuffing.",
    "own_post": "Penalty: 1 for our own post.",
}


def _utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RawEnvelope(_Model):
    """What an ingest agent puts on ``posts.raw``: the platform payload untouched."""

    ingest_id: str = Field(description="Unique id of this ingest event (uuid4 hex).")
    source: str = Field(description="Ingest agent that produced it: replay, mastodon, ...")
    format: str = Field(description="Payload format the normalize stage dispatches on.")
    received_at: datetime
    payload: Any = Field(description="The platform record as received (JSON value or text).")
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Facts the reader knew but the record lacks (thread root, file name).",
    )

    _v_received = field_validator("received_at")(_utc)


class Author(_Model):
    id: str = Field(description="platform:native_author_id (or a pseudonym).")
    handle: str | None = None
    display_name: str | None = None
    bio: str | None = None
    followers: int | None = Field(default=None, ge=0)
    following: int | None = Field(default=None, ge=0)
    verified: bool = False
    is_org_account: bool = False


class ReplyTarget(_Model):
    post_id: str
    author_id: str | None = None


class Metrics(_Model):
    likes: int = Field(default=0, ge=0)
    shares: int = Field(default=0, ge=0)
    replies: int = Field(default=0, ge=0)


class CanonicalPost(_Model):
    """One post from any platform, in one shape (ActivityStreams-like)."""

    kind: MessageKind = Field(
        default="post",
        description="post (new), edit (replaces the stored post) or delete (removes it).",
    )
    id: str = Field(description="platform:native_id; the idempotency key everywhere.")
    platform: str
    url: str | None = None
    created_at: datetime
    lang: str | None = None
    text: str = ""
    author: Author
    conversation_id: str = Field(description="platform:native_id of the thread's root.")
    in_reply_to: ReplyTarget | None = None
    mentions: list[str] = Field(default_factory=list, description="Handles, without '@'.")
    hashtags: list[str] = Field(default_factory=list, description="Tags, without '#'.")
    links: list[str] = Field(default_factory=list)
    metrics: Metrics = Field(default_factory=Metrics)
    ingest_id: str | None = None
    received_at: datetime | None = None

    _v_created = field_validator("created_at")(_utc)

    @field_validator("received_at")
    @classmethod
    def _v_received(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _utc(value)


class Entity(_Model):
    text: str
    label: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    source: Literal["model", "gazetteer", "mention", "hashtag", "link"]


class Stakeholder(_Model):
    label: StakeholderLabel
    score: float = Field(ge=0.0, le=1.0)
    reasons: list[str] = Field(default_factory=list)


class Joinability(_Model):
    """The score, the recommended action and why, in prose and as machine-readable codes.

    ``reason_codes`` is parallel to ``reasons`` (same length, same order), so a
    subscriber can filter or count on the code and show the sentence. Codes
    are stable within a major version; the prose may be reworded any time.
    """

    score: float = Field(ge=0.0, le=1.0)
    action: Action
    components: dict[str, float] = Field(
        default_factory=dict,
        description="Component name -> value in 0..1; the names are COMPONENT_NAMES "
        "(listed under properties and x-component-names).",
        json_schema_extra={
            "properties": {
                name: {"type": "number", "minimum": 0, "maximum": 1, "description": text}
                for name, text in _COMPONENT_DESCRIPTIONS.items()
            },
            "x-component-names": list(COMPONENT_NAMES),
        },
    )
    reasons: list[str] = Field(default_factory=list, description="Sentences for a person.")
    reason_codes: list[str] = Field(
        default_factory=list,
        description="One code per entry of reasons, same order: rule.<policy rule> (the "
        "action's rule: own, self_harm, hostile, spam, escalate, pile_on, unrelated, "
        "sensitive_topic, personal, news, help, thanks, closing, praise, default), "
        "component.<name> (a top positive component), low.<name> (share_of_voice or "
        "freshness below 0.25), penalty.sensitivity.<signal>, penalty.hostility.<signal>, "
        "penalty.hostility.offensive, penalty.spam.spam, penalty.spam.stuffing.",
    )


class ConversationSummary(_Model):
    posts: int = 0
    participants: int = 0
    own_posts: int = 0
    last_activity: datetime | None = None
    last_org_post_at: datetime | None = None
    awaiting_org_reply: bool = False
    awaiting_since: datetime | None = None
    unanswered_org_posts: int = Field(
        default=0, description="Own posts in a row with no reply from anyone else."
    )
    give: int = Field(default=0, description="Own replies, shares and appreciation of others.")
    ask: int = Field(default=0, description="Own broadcasts (posts that start a thread).")


class Sensitivity(_Model):
    flags: list[str] = Field(default_factory=list)


Addressed = Literal["mention", "reply", "thread", "name", "none"]
PostKind = Literal["question", "complaint", "praise", "news", "promotion", "closing", "chatter"]
Sentiment = Literal["negative", "neutral", "positive"]


class Signal(_Model):
    """One thing the reading found, how sure it is, and the words or scores that show it."""

    name: str
    score: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)


class Reading(_Model):
    """How a careful community manager reads the post, computed once per post.

    Stakeholders and joinability are both derived from it, so a reason in
    either can always be traced to a signal here.
    """

    addressed: Addressed = Field(
        description="How the post addresses us: mentions an own handle or alias, replies to "
        "us, writes in a thread we answered them in, names us without tagging, or not at all."
    )
    about_us: bool = Field(
        description="Names us, our products, places or programmes, or one of our topics."
    )
    kind: PostKind
    sentiment: Sentiment
    emotion: str | None = None
    signals: list[Signal] = Field(default_factory=list)


class EnrichedPost(CanonicalPost):
    """A canonical post with what enrichment found, as published on ``posts.enriched``.

    ``kind`` is narrowed to post|edit: enrich publishes a delete as a
    :class:`PostDeleted` tombstone, never as an enriched post, so the
    published schema must not let a consumer expect one.
    """

    kind: EnrichedKind = Field(
        default="post",
        description="post (new) or edit (replaces the stored post with the same id); deletes "
        "arrive as post_deleted.",
    )
    entities: list[Entity] = Field(default_factory=list)
    stakeholders: list[Stakeholder] = Field(default_factory=list)
    joinability: Joinability
    conversation: ConversationSummary = Field(default_factory=ConversationSummary)
    sensitivity: Sensitivity = Field(default_factory=Sensitivity)
    reading: Reading | None = None
    processed_at: dict[str, datetime] = Field(
        default_factory=dict, description="Stage name -> UTC time the stage finished."
    )
    redacted: bool = Field(
        default=False,
        description="The post touches a personal topic and the profile redacts those: text, "
        "links, mentions, hashtags, entities, evidence and the author's display fields are "
        "empty; flags, scores and the conversation link are kept.",
    )
    schema_version: str = SCHEMA_VERSION


class LastPost(_Model):
    """The post an analyst reads first in a thread: the newest by ``created_at``."""

    id: str
    author_id: str
    handle: str | None = None
    created_at: datetime
    text: str = Field(default="", description="At most 500 characters; empty when redacted.")
    url: str | None = None
    action: Action | None = None

    _v_created = field_validator("created_at")(_utc)


class ConversationView(_Model):
    """On ``conversations.state`` (compacted, keyed by conversation id): a thread as it is now.

    Published by enrich after every post, edit or delete of the thread, so the
    latest value per key is its current state; a null value (tombstone) means
    the thread is gone (retention, erasure). The sink upserts it as one
    document per thread in the ``conversations`` index family.
    """

    conversation_id: str
    platform: str
    posts: int = 0
    participants: int = 0
    participant_ids: list[str] = Field(
        default_factory=list, description="Author ids of the participants (bounded)."
    )
    own_posts: int = 0
    give: int = 0
    ask: int = 0
    last_activity: datetime | None = None
    last_org_post_at: datetime | None = None
    awaiting_org_reply: bool = False
    awaiting_since: datetime | None = None
    awaiting_post_id: str | None = None
    unanswered_org_posts: int = 0
    last_post: LastPost | None = None
    last_action: Action | None = Field(
        default=None, description="The recommended action on the post enriched last."
    )
    best_joinability: float | None = Field(
        default=None, description="The highest joinability of any remembered post."
    )
    best_post_id: str | None = None
    updated_at: datetime = Field(description="When enrich published this state (UTC).")
    schema_version: str = SCHEMA_VERSION

    _v_updated = field_validator("updated_at")(_utc)


AlertKind = Literal["rule", "reply_deadline", "spike", "silence"]
Severity = Literal["info", "warning", "critical"]


class Condition(_Model):
    """One value that made a rule fire: the field read and what it held."""

    field: str
    value: str


class SpikeDrivers(_Model):
    """What drives a spike: the top authors, entities and posts in the window."""

    key: str = Field(description="entity:<text>, hashtag:<tag> or topic:<name>.")
    count: int = Field(ge=0, description="Posts in the window.")
    baseline: float = Field(ge=0, description="Mean posts per window over the baseline.")
    authors: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list)
    post_ids: list[str] = Field(default_factory=list)


class Alert(_Model):
    """On ``alerts`` (keyed by conversation id, or the spike/source key) and in the alerts index.

    ``id`` is stable (a hash of kind, rule, and what triggered it), so a
    replay or a redelivery overwrites the same document and a notifier can
    deliver it once.
    """

    id: str
    kind: AlertKind
    rule: str
    severity: Severity
    created_at: datetime = Field(description="When the alert was raised (UTC).")
    conversation_id: str | None = None
    post_id: str | None = None
    platform: str | None = None
    author_handle: str | None = None
    summary: str = Field(description="One line for a person: what happened and why it matters.")
    why: list[Condition] = Field(default_factory=list)
    url: str | None = Field(default=None, description="The triggering post's URL.")
    kibana_url: str | None = Field(
        default=None, description="A Kibana Discover link, when a Kibana base URL is set."
    )
    joinability_score: float | None = None
    action: Action | None = None
    stakeholder_labels: list[str] = Field(default_factory=list)
    awaiting_since: datetime | None = None
    spike: SpikeDrivers | None = None
    source: str | None = Field(default=None, description="The silent source (silence alerts).")
    outputs: list[str] = Field(
        default_factory=list, description="Named outputs the rule sends it to (webhooks)."
    )
    schema_version: str = SCHEMA_VERSION

    _v_created = field_validator("created_at")(_utc)


class Erasure(_Model):
    """On ``privacy.erasures`` (compacted, keyed by :meth:`key`): a person we must forget.

    While the record stands, normalize and enrich drop every post of the
    subject (counted, never stored). A tombstone (null value) lifts it.
    """

    subject: str = Field(
        description="Author id (platform:native id) or handle without '@'; the keyed hash "
        "of it when the deployment runs pseudonymised."
    )
    platform: str | None = Field(
        default=None, description="Only the subject's account on this platform; None: all."
    )
    requested_at: datetime
    requested_by: str = Field(description="Who asked (operator, ticket), for the audit trail.")
    schema_version: str = SCHEMA_VERSION

    _v_requested = field_validator("requested_at")(_utc)

    def key(self) -> str:
        """The topic key: one record per subject and platform scope."""
        return f"{self.platform or '*'}|{self.subject}"


class PostDeleted(_Model):
    """Tombstone on ``posts.enriched``: the platform deleted this post; drop every copy."""

    kind: Literal["delete"] = "delete"
    id: str
    platform: str
    conversation_id: str
    deleted_at: datetime
    schema_version: str = SCHEMA_VERSION

    _v_deleted = field_validator("deleted_at")(_utc)


class DeadLetter(_Model):
    """A message a stage could not process, kept with everything needed to replay it."""

    stage: str
    reason: str = Field(description="Short machine-readable cause, used as a metric label.")
    error: str = Field(description="Human-readable detail.")
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    payload: str = Field(description="Original bytes as UTF-8 (replacement chars), truncated.")
    payload_truncated: bool = False
    payload_size: int = Field(ge=0, description="Size of the original payload in bytes.")
    failed_at: datetime

    _v_failed = field_validator("failed_at")(_utc)


PUBLISHED_MODELS: dict[str, type[BaseModel]] = {
    "raw_envelope": RawEnvelope,
    "canonical_post": CanonicalPost,
    "enriched_post": EnrichedPost,
    "post_deleted": PostDeleted,
    "dead_letter": DeadLetter,
    "erasure": Erasure,
    "conversation_view": ConversationView,
    "alert": Alert,
}


_LEADING_KIND = re.compile(rb'\{\s*"kind"\s*:\s*"([A-Za-z_]{1,40})"\s*[,}]')
"""A value whose first key is ``kind`` (pydantic writes fields in order; every model of
ours that has a kind declares it first): the header is read off the first bytes instead
of parsing a 2 KB post once more on every publish."""


def message_headers(value: bytes | None, shape: str) -> list[tuple[str, bytes]]:
    """The headers of every message townsquare publishes (kafka-python's and Faust's form).

    ``townsquare-schema-version`` lets a consumer pick a parser before reading
    the value; ``townsquare-kind`` is the value's own ``kind`` when it has one
    (post, edit, delete on posts.enriched; the alert kind on alerts), else
    ``shape`` (the model name: conversation_view, dead_letter, erasure,
    raw_envelope, locator), and ``tombstone`` for a null value on a
    compacted topic. Reading ``kind`` from the bytes keeps callers (steps
    that return plain :class:`Send` records) unchanged.
    """
    kind = "tombstone" if value is None else shape
    leading = _LEADING_KIND.match(value) if value is not None else None
    if leading is not None:  # how every value townsquare writes begins: no parse needed
        kind = leading.group(1).decode("utf-8")
    elif value is not None and value[:1] == b"{":
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("kind"), str):
            kind = decoded["kind"]
    return [
        (SCHEMA_VERSION_HEADER, SCHEMA_VERSION.encode("ascii")),
        (KIND_HEADER, kind.encode("utf-8")),
    ]
