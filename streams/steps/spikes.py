"""spikes: talk about an entity, hashtag or topic rising well above its own baseline.

Each enriched post counts once under each of its *spike keys*
(:func:`spike_keys`): ``entity:<text>`` for the entities NER or the gazetteer
found, ``hashtag:<tag>``, and ``topic:<name>`` for the profile topic the
reading says it is about. Keys are case-folded, so ``#GreenBins`` and
``#greenbins`` are one key. Our own posts never count: a burst of our own
announcements is not people talking about something.

Counts live in time *buckets* of :data:`BUCKET` (five minutes, aligned to the
epoch), one bucket per key and period; in a worker they are the windows of a
tumbling windowed Faust table. A :class:`~processors.rules_file.SpikeRule`
compares the last ``window`` (the bucket of the post and the buckets before
it, so the window slides in five-minute steps) with the mean per window over
the ``baseline`` before it, and fires when both

* the window holds at least ``min_count`` posts, and
* it holds at least ``factor`` times the baseline mean.

Time is *event time*: the post's ``created_at`` (never later than its
``received_at``), so a replayed burst is judged as it happened, not as it
was replayed. Three guards keep the alert meaningful:

* **Warm-up.** Nothing is judged until the detector has watched for one
  ``baseline`` (``since``): on a fresh start every busy key would otherwise
  look like it rose from nothing. After the warm-up a key that is new (no
  baseline at all) still spikes on ``min_count``: a new hashtag taking off is
  the very thing to catch.
* **History.** The worker's table forgets buckets :data:`HISTORY` after they
  end (Faust expires windows by the wall clock), so a post older than
  ``now - HISTORY + window + baseline`` is counted but not judged: its
  baseline may already be gone, and judging against a partial baseline would
  invent spikes out of an old replay.
* **Cooldown.** After an alert for a key under a rule, that key raises
  nothing more under the rule for ``cooldown``: one burst is one alert.

The alert id is ``alert_id("spike", rule, key, window start)``, so the same
burst replayed is the same alert; a post delivered twice (at-least-once) is
counted once (the bucket remembers its post ids), and if it is the post that
raised an alert it sends that alert again, under the same id, in case the
first send was lost in a crash. The
alert explains itself (:class:`schemas.models.SpikeDrivers`): the count and
the baseline, the top authors and entities in the window, and its most
recent posts.

Plain records in and out: :func:`observe` is the decision for one post under
one key, :class:`SpikeDetector` runs it over a list with dictionaries for
state, as the agent does with its tables.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from processors.alerts import alert_id, discover_url
from processors.rules_file import SpikeKey, SpikeRule
from schemas.models import Alert, Condition, EnrichedPost, SpikeDrivers

KIND = "spike"
BUCKET = timedelta(minutes=5)
"""The counting grain: windows and baselines slide in steps of this."""
BUCKET_MS = int(BUCKET.total_seconds() * 1000)
HISTORY = timedelta(days=2)
"""How long the worker's table keeps a bucket (its windows' ``expires``): a rule's
window plus baseline must fit in it, with room for posts that arrive late."""
MAX_POSTS = 200
"""Post ids a bucket remembers, so a redelivered post is not counted twice."""
MAX_COUNTED = 50
"""Authors and entities a bucket counts (the most frequent are kept)."""
TOP = 5
"""Authors, entities and posts an alert names."""
POSTS_DATA_VIEW = "townsquare-posts"
COUNTED_ENTITY_SOURCES = frozenset({"model", "gazetteer"})
"""Mentions, hashtags and links are entities too; they have keys of their own or none."""
_ABOUT = re.compile(r"^is about '(.+)'$")


class Mention(BaseModel):
    """One post counted under one spike key (the value of ``posts.by_spike_key``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str
    post_id: str
    at: datetime = Field(description="Event time: created_at, never after received_at.")
    author: str
    entities: list[str] = Field(default_factory=list)
    platform: str
    url: str | None = None


def _norm(text: str) -> str:
    return " ".join(text.replace("_", " ").split()).casefold()


def spike_keys(post: EnrichedPost, on: Collection[SpikeKey], topics: Sequence[str]) -> list[str]:
    """The keys ``post`` counts under, for the key kinds in ``on`` (sorted, each once).

    ``topics`` are the profile's topics: the reading's ``on_topic`` evidence
    (``is about 'bin collection'``) is mapped to the topic's name as the
    profile spells it, so a key does not split by the case the post used.
    """
    keys: set[str] = set()
    if "entity" in on:
        for entity in post.entities:
            text = _norm(entity.text)
            if entity.source in COUNTED_ENTITY_SOURCES and len(text) > 1:
                keys.add(f"entity:{text}")
    if "hashtag" in on:
        keys.update(f"hashtag:{_norm(tag.lstrip('#'))}" for tag in post.hashtags if tag.strip("#"))
    if "topic" in on and post.reading is not None:
        named = {_norm(t): _norm(t) for t in topics}
        for signal in post.reading.signals:
            if signal.name != "on_topic":
                continue
            for evidence in signal.evidence:
                match = _ABOUT.match(evidence)
                if match:
                    found = _norm(match.group(1))
                    keys.add(f"topic:{named.get(found, found)}")
    return sorted(keys)


def event_time(post: EnrichedPost) -> datetime:
    """When the post happened: ``created_at``, but not after we received it (clock skew)."""
    if post.received_at is not None and post.created_at > post.received_at:
        return post.received_at
    return post.created_at


def mentions(
    post: EnrichedPost, rules: Sequence[SpikeRule], topics: Sequence[str]
) -> list[Mention]:
    """What the re-keying agent publishes for one enriched post: one record per spike key."""
    if not rules or post.author.is_org_account or post.redacted:
        return []
    on = {kind for rule in rules for kind in rule.on}
    keys = spike_keys(post, on, topics)
    if not keys:
        return []
    entities = list(
        dict.fromkeys(e.text for e in post.entities if e.source in COUNTED_ENTITY_SOURCES)
    )[:10]
    author = post.author.handle or post.author.id
    at = event_time(post)
    return [
        Mention(
            key=key,
            post_id=post.id,
            at=at,
            author=author,
            entities=entities,
            platform=post.platform,
            url=post.url,
        )
        for key in keys
    ]


def to_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def bucket_start(at_ms: int) -> int:
    """The start (epoch ms) of the bucket holding ``at_ms``; buckets are epoch-aligned."""
    return at_ms - at_ms % BUCKET_MS


def add(bucket: Mapping[str, Any] | None, mention: Mention) -> dict[str, Any] | None:
    """The bucket with ``mention`` counted; None when its post is already counted there."""
    posts: list[str] = list(bucket["posts"]) if bucket else []
    if mention.post_id in posts:
        return None
    authors: Counter[str] = Counter(bucket["authors"] if bucket else {})
    entities: Counter[str] = Counter(bucket["entities"] if bucket else {})
    authors[mention.author] += 1
    entities.update(mention.entities)
    posts = [*posts, mention.post_id][-MAX_POSTS:]
    last = bucket.get("last") if bucket else None
    at_ms = to_ms(mention.at)
    if last is None or at_ms >= int(last["at"]):
        last = {
            "post_id": mention.post_id,
            "at": at_ms,
            "url": mention.url,
            "platform": mention.platform,
        }
    return {
        "count": (int(bucket["count"]) if bucket else 0) + 1,
        "posts": posts,
        "authors": _kept(authors),
        "entities": _kept(entities),
        "last": last,
    }


def _kept(counts: Counter[str]) -> dict[str, int]:
    """At most :data:`MAX_COUNTED` entries, the most frequent (ties: first seen)."""
    if len(counts) <= MAX_COUNTED:
        return dict(counts)
    return dict(counts.most_common(MAX_COUNTED))


Lookup = Callable[[int], Mapping[str, Any] | None]
"""Bucket start (epoch ms) -> that bucket of the key, or None."""


class Judged(NamedTuple):
    """The numbers a rule compared, for one key at one moment."""

    posts: int
    baseline: float
    window_start_ms: int
    window: list[Mapping[str, Any]]


def spans(rule: SpikeRule) -> tuple[int, int]:
    """The rule's window and baseline in whole buckets (rounded up)."""
    window = max(1, math.ceil(rule.window / BUCKET))
    baseline = max(1, math.ceil(rule.baseline / BUCKET))
    return window, baseline


def beyond_history(rules: Sequence[SpikeRule]) -> list[str]:
    """Rules whose window and baseline do not fit in :data:`HISTORY`: they can never fire."""
    return [rule.name for rule in rules if rule.window + rule.baseline >= HISTORY]


def judge(rule: SpikeRule, at_ms: int, buckets: Lookup) -> Judged:
    """The window ending with ``at_ms``'s bucket against the mean per window before it."""
    w, b = spans(rule)
    start = bucket_start(at_ms)
    window = [v for i in range(w) if (v := buckets(start - i * BUCKET_MS))]
    before = [v for i in range(w, w + b) if (v := buckets(start - i * BUCKET_MS))]
    count = sum(int(v["count"]) for v in window)
    baseline = sum(int(v["count"]) for v in before) * w / b
    return Judged(count, baseline, start - (w - 1) * BUCKET_MS, window)


def fires(rule: SpikeRule, judged: Judged) -> bool:
    """At least ``min_count`` posts, and at least ``factor`` times the baseline mean."""
    return judged.posts >= max(rule.min_count, rule.factor * judged.baseline)


class Observed(NamedTuple):
    """What to do after one mention: store ``bucket`` and ``state`` (None: unchanged), send."""

    bucket: dict[str, Any] | None
    state: dict[str, Any] | None
    alerts: list[Alert]


def observe(
    mention: Mention,
    buckets: Lookup,
    state: Mapping[str, Any] | None,
    since_ms: int,
    rules: Sequence[SpikeRule],
    now: datetime,
    kibana_base_url: str | None = None,
) -> Observed:
    """Count ``mention`` in its bucket and ask each rule on its key kind whether it spikes.

    ``state`` is the key's alert state (``{"alerted": {rule: {"window": start
    ms, "post": the post that raised it}}}``) and ``since_ms`` when the
    detector started watching (the warm-up).
    """
    at_ms = to_ms(mention.at)
    current = bucket_start(at_ms)
    counted = add(buckets(current), mention)
    duplicate = counted is None

    def lookup(start: int) -> Mapping[str, Any] | None:
        return counted if start == current and counted is not None else buckets(start)

    alerted: dict[str, dict[str, Any]] = dict((state or {}).get("alerted", {}))
    kind = mention.key.split(":", 1)[0]
    alerts: list[Alert] = []
    changed = False
    horizon = to_ms(now - HISTORY)
    for rule in rules:
        if kind not in rule.on:
            continue
        w, b = spans(rule)
        if at_ms - since_ms < b * BUCKET_MS or current - (w + b) * BUCKET_MS < horizon:
            continue  # warming up, or too old to have its whole baseline
        judged = judge(rule, at_ms, lookup)
        if not fires(rule, judged):
            continue
        last = alerted.get(rule.name)
        cooldown_ms = int(rule.cooldown.total_seconds() * 1000)
        if last is None or abs(judged.window_start_ms - int(last["window"])) >= cooldown_ms:
            alerted[rule.name] = {"window": judged.window_start_ms, "post": mention.post_id}
            changed = True
        elif not (
            duplicate
            and last["post"] == mention.post_id
            and int(last["window"]) == judged.window_start_ms
        ):
            continue  # cooling down; only the post that raised the alert re-sends it
        alerts.append(spike_alert(rule, mention.key, judged, now, kibana_base_url))
    return Observed(counted, {"alerted": alerted} if changed else None, alerts)


def drivers(key: str, judged: Judged) -> SpikeDrivers:
    """Who and what drive the window: top authors and entities, the most recent posts."""
    authors: Counter[str] = Counter()
    entities: Counter[str] = Counter()
    subject = key.split(":", 1)[1]
    for bucket in judged.window:
        authors.update(bucket["authors"])
        entities.update({e: n for e, n in bucket["entities"].items() if _norm(e) != subject})
    newest = sorted(judged.window, key=lambda v: int(v["last"]["at"]), reverse=True)
    posts = [p for v in newest for p in reversed(v["posts"])]
    return SpikeDrivers(
        key=key,
        count=judged.posts,
        baseline=round(judged.baseline, 2),
        authors=_top(authors),
        entities=_top(entities),
        post_ids=list(dict.fromkeys(posts))[:TOP],
    )


def _top(counts: Counter[str]) -> list[str]:
    """The :data:`TOP` most frequent, ties by name (the same alert for the same posts)."""
    return [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]


def spike_alert(
    rule: SpikeRule, key: str, judged: Judged, now: datetime, kibana_base_url: str | None
) -> Alert:
    """The alert for ``key`` spiking under ``rule`` in the window ``judged``."""
    start = datetime.fromtimestamp(judged.window_start_ms / 1000, UTC)
    explained = drivers(key, judged)
    latest = max((v["last"] for v in judged.window), key=lambda last: int(last["at"]))
    usual = (
        f"{judged.posts / judged.baseline:.1f} times its usual {judged.baseline:.1f}"
        if judged.baseline
        else "where there were none before"
    )
    summary = f"{_label(key)}: {judged.posts} posts in the last {_span(rule.window)}, {usual}"
    if explained.authors:
        summary += f"; most from {', '.join('@' + a for a in explained.authors[:3])}"
    return Alert(
        id=alert_id(KIND, rule.name, key, start.isoformat()),
        kind=KIND,
        rule=rule.name,
        severity=rule.severity,
        created_at=now,
        post_id=latest["post_id"],
        platform=latest.get("platform"),
        summary=summary,
        why=[
            Condition(field="count", value=str(judged.posts)),
            Condition(field="baseline_mean", value=f"{judged.baseline:.2f}"),
            Condition(field="factor", value=str(rule.factor)),
            Condition(field="min_count", value=str(rule.min_count)),
            Condition(field="window", value=_span(rule.window)),
            Condition(field="baseline", value=_span(rule.baseline)),
            Condition(field="window_start", value=start.isoformat()),
        ],
        url=latest.get("url"),
        kibana_url=discover_url(kibana_base_url, POSTS_DATA_VIEW, latest["post_id"]),
        spike=explained,
        outputs=list(rule.outputs),
    )


def _label(key: str) -> str:
    kind, subject = key.split(":", 1)
    if kind == "hashtag":
        return f"#{subject}"
    if kind == "topic":
        return f"Talk about {subject!r}"
    return f"Posts about {subject!r}"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


class SpikeDetector:
    """:func:`observe` over a list of mentions, with dictionaries where the agent has tables.

    One detector is one partition of the re-keyed topic: ``since`` is the
    first mention's event time, as the agent keeps it per partition.
    """

    def __init__(
        self,
        rules: Sequence[SpikeRule],
        now: datetime | Callable[[], datetime],
        kibana_base_url: str | None = None,
    ) -> None:
        self.rules = list(rules)
        self._now = now
        self.kibana_base_url = kibana_base_url
        self.buckets: dict[tuple[str, int], dict[str, Any]] = {}
        self.state: dict[str, dict[str, Any]] = {}
        self.since_ms: int | None = None

    def now(self) -> datetime:
        return self._now() if callable(self._now) else self._now

    def _bucket(self, key: str, start: int) -> dict[str, Any] | None:
        return self.buckets.get((key, start))

    def feed(self, stream: Iterable[Mention]) -> list[Alert]:
        """Every alert the mentions raise, in order."""
        alerts: list[Alert] = []
        for mention in stream:
            at_ms = to_ms(mention.at)
            if self.since_ms is None:
                self.since_ms = at_ms
            key = mention.key
            observed = observe(
                mention,
                partial(self._bucket, key),
                self.state.get(key),
                self.since_ms,
                self.rules,
                self.now(),
                self.kibana_base_url,
            )
            if observed.bucket is not None:
                self.buckets[(key, bucket_start(at_ms))] = observed.bucket
            if observed.state is not None:
                self.state[key] = observed.state
            alerts.extend(observed.alerts)
        return alerts


def detect(
    stream: Iterable[Mention],
    rules: Sequence[SpikeRule],
    now: datetime,
    kibana_base_url: str | None = None,
) -> list[Alert]:
    """The alerts a fresh detector raises over ``stream`` (list in, list out)."""
    return SpikeDetector(rules, now, kibana_base_url).feed(stream)
