"""Mastodon statuses (REST) and streaming events.

Accepted payloads:
- a status object;
- a streaming event ``{"event": "update" | "status.update" | "delete", "payload": ...}``
  whose payload is the status (as an object or, as the streaming API sends
  it, a JSON string) or, for ``delete``, the status id.

``update`` is a post, ``status.update`` an ``edit`` (``created_at`` stays the
original time) and ``delete`` a ``delete``. A boost (``reblog`` set) is
normalized as the boosted status, so it lands on the same id as the original.
The content warning (``spoiler_text``) is kept as the first paragraph: it is
what readers see first, and often says the post is sensitive.

Ids are the instance's own (``mastodon:<status id>``, authors
``mastodon:<account id>``): the same status has other ids on other instances,
so one deployment should listen through one instance.

Limitation: a status has no conversation id, only ``in_reply_to_id``. The
conversation is ``context["conversation_root"]`` when an ingest agent walked
the chain (``/api/v1/statuses/:id/context``); otherwise a root is its own
conversation and a reply is filed under its *parent* as a best effort, so a
deep thread may be split into several conversations.
"""

from __future__ import annotations

from typing import Any

from processors.adapters.common import (
    as_dict,
    author,
    build_post,
    context_str,
    delete_post,
    id_value,
    maybe_json,
    opt_count,
    opt_dict,
    opt_id,
    opt_list,
    opt_str,
    parse_time,
    post_id,
    reply_target,
    req_dict,
    req_id,
    req_str,
    strings,
    text_hashtags,
    text_links,
    text_mentions,
)
from processors.adapters.errors import UNSUPPORTED_EVENT, AdapterError
from processors.adapters.html_text import html_to_text
from processors.text import unique
from schemas.models import Author, CanonicalPost, MessageKind, Metrics, RawEnvelope

PLATFORM = "mastodon"
_EVENTS: dict[str, MessageKind] = {"update": "post", "status.update": "edit"}


def _account(data: dict[str, Any], where: str) -> Author:
    account = req_dict(data, "account", where)
    where = f"{where}.account"
    bio_html = opt_str(account, "note", where)
    bio = html_to_text(bio_html, f"{where}.note")[0] if bio_html else None
    return author(
        id=post_id(PLATFORM, req_id(account, "id", where)),
        handle=opt_str(account, "acct", where) or opt_str(account, "username", where),
        display_name=opt_str(account, "display_name", where) or None,
        bio=bio or None,
        followers=opt_count(account, "followers_count", where),
        following=opt_count(account, "following_count", where),
    )


def _entity_names(items: list[Any], key: str) -> list[Any]:
    return [item.get(key) for item in items if isinstance(item, dict)]


def status_post(envelope: RawEnvelope, status: dict[str, Any], kind: MessageKind) -> CanonicalPost:
    where = "payload"
    reblog = opt_dict(status, "reblog", where)
    if reblog is not None:
        status, where = reblog, "payload.reblog"
    native = req_id(status, "id", where)
    html = req_str(status, "content", where) if status.get("content") is not None else ""
    body, hrefs = html_to_text(html, f"{where}.content")
    spoiler = (opt_str(status, "spoiler_text", where) or "").strip()
    text = f"{spoiler}\n\n{body}".strip() if spoiler else body
    parent = opt_id(status, "in_reply_to_id", where)
    parent_author = opt_id(status, "in_reply_to_account_id", where)
    root = context_str(envelope, "conversation_root") or parent or native
    mentions = strings(_entity_names(opt_list(status, "mentions", where), "acct"))
    tags = strings(_entity_names(opt_list(status, "tags", where), "name"))
    return build_post(
        envelope,
        kind=kind,
        id=post_id(PLATFORM, native),
        platform=PLATFORM,
        url=opt_str(status, "url", where) or opt_str(status, "uri", where),
        created_at=parse_time(status.get("created_at"), f"{where}.created_at"),
        lang=opt_str(status, "language", where),
        text=text,
        author=_account(status, where),
        conversation_id=post_id(PLATFORM, root),
        in_reply_to=reply_target(PLATFORM, parent, parent_author),
        mentions=mentions or text_mentions(text),
        hashtags=tags or text_hashtags(text),
        links=unique(hrefs + text_links(text)),
        metrics=Metrics(
            likes=opt_count(status, "favourites_count", where) or 0,
            shares=opt_count(status, "reblogs_count", where) or 0,
            replies=opt_count(status, "replies_count", where) or 0,
        ),
    )


def normalize_mastodon(envelope: RawEnvelope) -> CanonicalPost:
    message = as_dict(maybe_json(envelope.payload, "payload"), "payload")
    if "event" not in message:
        return status_post(envelope, message, "post")
    event = req_str(message, "event", "payload")
    if event == "delete":
        status_id = id_value(message.get("payload"), "payload.payload")
        return delete_post(envelope, PLATFORM, status_id, at=None)
    kind = _EVENTS.get(event)
    if kind is None:
        raise AdapterError(
            UNSUPPORTED_EVENT, f"payload.event: {event[:50]!r} is not a status event"
        )
    status = as_dict(maybe_json(message.get("payload"), "payload.payload"), "payload.payload")
    return status_post(envelope, status, kind)
