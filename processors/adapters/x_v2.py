"""X (Twitter) API v2 tweets, filtered-stream messages and compliance deletes.

Accepted payloads:
- ``{"data": <tweet>, "includes": {"users": [...]}, "matching_rules": [...]}``
  (a lookup response for one tweet or a filtered-stream message);
- a bare tweet object (``{"id", "text", ...}``);
- a compliance delete ``{"data": {"delete": {"tweet": {"id", "author_id"},
  "event_at"}}}``, also without the ``data`` wrapper, and the older
  ``{"delete": {"status": {"id_str", "user_id_str"}, "timestamp_ms"}}``.

The author comes from ``includes.users`` (matched on ``author_id``) when the
request expanded it; otherwise it is the bare id. Mentions, hashtags and links
are the API's ``entities`` (``expanded_url`` over the t.co link) and fall back
to the text. ``shares`` counts retweets and quotes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from processors.adapters.common import (
    as_dict,
    author,
    build_post,
    context_str,
    delete_post,
    from_epoch,
    maybe_json,
    opt_bool,
    opt_count,
    opt_dict,
    opt_id,
    opt_list,
    opt_str,
    parse_time,
    post_id,
    reply_target,
    req_id,
    req_str,
    snowflake_time,
    strings,
    text_hashtags,
    text_links,
    text_mentions,
)
from processors.adapters.errors import WRONG_TYPE, AdapterError
from schemas.models import Author, CanonicalPost, Metrics, RawEnvelope

PLATFORM = "x"


def _delete(envelope: RawEnvelope, event: dict[str, Any], where: str) -> CanonicalPost:
    if "tweet" in event:
        tweet = as_dict(event.get("tweet"), f"{where}.tweet")
        native = req_id(tweet, "id", f"{where}.tweet")
        author_native = opt_id(tweet, "author_id", f"{where}.tweet")
        raw_at = event.get("event_at")
        at = parse_time(raw_at, f"{where}.event_at") if raw_at is not None else None
    else:
        status = as_dict(event.get("status"), f"{where}.status")
        native = opt_id(status, "id_str", f"{where}.status") or req_id(
            status, "id", f"{where}.status"
        )
        author_native = opt_id(status, "user_id_str", f"{where}.status") or opt_id(
            status, "user_id", f"{where}.status"
        )
        at = _timestamp_ms(event.get("timestamp_ms"), f"{where}.timestamp_ms")
    return delete_post(envelope, PLATFORM, native, at=at, author_native=author_native)


def _timestamp_ms(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdapterError(WRONG_TYPE, f"{where}: expected milliseconds")
    return from_epoch(value / 1000, where)


def _user(users: list[Any], author_native: str) -> Author:
    for user in users:
        if isinstance(user, dict) and str(user.get("id")) == author_native:
            where = "payload.includes.users[]"
            metrics = opt_dict(user, "public_metrics", where) or {}
            return author(
                id=post_id(PLATFORM, author_native),
                handle=opt_str(user, "username", where),
                display_name=opt_str(user, "name", where),
                bio=opt_str(user, "description", where) or None,
                followers=opt_count(metrics, "followers_count", f"{where}.public_metrics"),
                following=opt_count(metrics, "following_count", f"{where}.public_metrics"),
                verified=opt_bool(user, "verified", where),
            )
    return author(id=post_id(PLATFORM, author_native))


def _entity_values(entities: dict[str, Any], key: str, *fields: str) -> list[Any]:
    out: list[Any] = []
    for item in opt_list(entities, key, "payload.data.entities"):
        if isinstance(item, dict):
            out.append(next((item[f] for f in fields if isinstance(item.get(f), str)), None))
    return out


def _tweet(envelope: RawEnvelope, tweet: dict[str, Any], includes: dict[str, Any]) -> CanonicalPost:
    where = "payload.data"
    native = req_id(tweet, "id", where)
    text = req_str(tweet, "text", where)
    author_native = req_id(tweet, "author_id", where)
    created_raw = tweet.get("created_at")
    created = (
        parse_time(created_raw, f"{where}.created_at")
        if created_raw is not None
        else snowflake_time(native) or parse_time(None, f"{where}.created_at")
    )
    parent = None
    for ref in opt_list(tweet, "referenced_tweets", where):
        if isinstance(ref, dict) and ref.get("type") == "replied_to":
            parent = req_id(ref, "id", f"{where}.referenced_tweets[]")
    parent_author = opt_id(tweet, "in_reply_to_user_id", where)
    conversation = (
        opt_id(tweet, "conversation_id", where)
        or context_str(envelope, "conversation_root")
        or parent
        or native
    )
    entities = opt_dict(tweet, "entities", where) or {}
    mentions = strings(_entity_values(entities, "mentions", "username"))
    hashtags = strings(_entity_values(entities, "hashtags", "tag"))
    links = strings(_entity_values(entities, "urls", "unwound_url", "expanded_url", "url"))
    metrics = opt_dict(tweet, "public_metrics", where) or {}
    mwhere = f"{where}.public_metrics"
    handle_author = _user(opt_list(includes, "users", "payload.includes"), author_native)
    handle = handle_author.handle or "i/web"
    return build_post(
        envelope,
        id=post_id(PLATFORM, native),
        platform=PLATFORM,
        url=f"https://twitter.com/{handle}/status/{native}",
        created_at=created,
        lang=opt_str(tweet, "lang", where),
        text=text,
        author=handle_author,
        conversation_id=post_id(PLATFORM, conversation),
        in_reply_to=reply_target(PLATFORM, parent, parent_author),
        mentions=mentions or text_mentions(text),
        hashtags=hashtags or text_hashtags(text),
        links=links or text_links(text),
        metrics=Metrics(
            likes=opt_count(metrics, "like_count", mwhere) or 0,
            shares=(opt_count(metrics, "retweet_count", mwhere) or 0)
            + (opt_count(metrics, "quote_count", mwhere) or 0),
            replies=opt_count(metrics, "reply_count", mwhere) or 0,
        ),
    )


def normalize_x_v2(envelope: RawEnvelope) -> CanonicalPost:
    message = as_dict(maybe_json(envelope.payload, "payload"), "payload")
    if "delete" in message:
        return _delete(envelope, as_dict(message["delete"], "payload.delete"), "payload.delete")
    if "data" not in message:
        return _tweet(envelope, message, {})
    data = as_dict(message.get("data"), "payload.data")
    if "delete" in data:
        return _delete(
            envelope, as_dict(data["delete"], "payload.data.delete"), "payload.data.delete"
        )
    return _tweet(envelope, data, opt_dict(message, "includes", "payload") or {})
