"""RSS and Atom entries, as feedparser parses them, serialised to JSON.

Payload: one feedparser entry as a dict (``time.struct_time`` values become
9-item lists when serialised). Context from the feed ingest: ``feed_url``,
``feed_title`` and, for a post's own comment feed (WordPress
``wfw:commentRss``), ``comments_for`` = the id of the post commented on.

The platform is ``rss`` for RSS and Atom alike. The post id is the entry id
(``guid``/``id``), else its link. Threads: an Atom ``thr:in-reply-to`` names
the parent (and, without a better root, the conversation); otherwise a
comment-feed entry replies to ``comments_for``, which is its conversation; any
other entry starts its own. ``context["conversation_root"]`` wins when set.
Authors are ``rss:<feed_url>#<author name>`` (feeds have no account ids), or
the feed itself when the entry names nobody. Entries without a date take the
envelope's receive time. The text is the title, then the content (or summary)
as plain text.
"""

from __future__ import annotations

from typing import Any

from processors.adapters.common import (
    as_dict,
    author,
    build_post,
    context_str,
    id_value,
    maybe_json,
    opt_dict,
    opt_id,
    opt_list,
    opt_str,
    parse_time,
    post_id,
    strings,
    text_hashtags,
    text_links,
    text_mentions,
)
from processors.adapters.errors import MISSING_FIELD, WRONG_TYPE, AdapterError
from processors.adapters.html_text import html_to_text
from processors.text import unique
from schemas.models import CanonicalPost, RawEnvelope, ReplyTarget

PLATFORM = "rss"


def _created(envelope: RawEnvelope, entry: dict[str, Any]) -> Any:
    for key in ("published_parsed", "updated_parsed", "published", "updated", "created"):
        if entry.get(key) is not None:
            return parse_time(entry[key], f"payload.{key}")
    return envelope.received_at


def _body(entry: dict[str, Any]) -> tuple[str, list[str]]:
    """Plain text of the richest body the entry has (Atom content, else summary)."""
    for block in opt_list(entry, "content", "payload"):
        if isinstance(block, dict) and isinstance(block.get("value"), str):
            return _markup(block["value"], block.get("type"), "payload.content[].value")
    summary = opt_str(entry, "summary", "payload")
    if summary:
        detail = opt_dict(entry, "summary_detail", "payload") or {}
        return _markup(summary, detail.get("type"), "payload.summary")
    return "", []


def _markup(value: str, mime: Any, where: str) -> tuple[str, list[str]]:
    if isinstance(mime, str) and mime == "text/plain":
        return value.strip(), []
    return html_to_text(value, where)


def _author_name(entry: dict[str, Any]) -> str | None:
    name = opt_str(entry, "author", "payload")
    if not name:
        detail = opt_dict(entry, "author_detail", "payload") or {}
        name = opt_str(detail, "name", "payload.author_detail")
    return name.strip() if name and name.strip() else None


def normalize_rss(envelope: RawEnvelope) -> CanonicalPost:
    entry = as_dict(maybe_json(envelope.payload, "payload"), "payload")
    link = opt_str(entry, "link", "payload")
    native = opt_id(entry, "id", "payload") or (id_value(link, "payload.link") if link else None)
    if native is None:
        raise AdapterError(MISSING_FIELD, "payload.id: an entry needs an id or a link")
    feed_url = envelope.context.get("feed_url")
    if feed_url is not None and not isinstance(feed_url, str):
        raise AdapterError(WRONG_TYPE, "context.feed_url: expected a string")
    title = (opt_str(entry, "title", "payload") or "").strip()
    body, hrefs = _body(entry)
    text = f"{title}\n\n{body}".strip() if body and body != title else title

    parent_ref = None
    thread = opt_dict(entry, "thr_in-reply-to", "payload")
    if thread is not None:
        parent_ref = opt_id(thread, "ref", "payload.thr_in-reply-to") or opt_id(
            thread, "href", "payload.thr_in-reply-to"
        )
    commented = context_str(envelope, "comments_for")
    parent = parent_ref or commented
    root = context_str(envelope, "conversation_root") or commented or parent or native

    name = _author_name(entry)
    source = feed_url or "unknown-feed"
    tags = [t.get("term") for t in opt_list(entry, "tags", "payload") if isinstance(t, dict)]
    return build_post(
        envelope,
        id=post_id(PLATFORM, native),
        platform=PLATFORM,
        url=link,
        created_at=_created(envelope, entry),
        lang=None,
        text=text,
        author=author(
            id=post_id(PLATFORM, f"{source}#{name}" if name else source),
            handle=name,
            display_name=name,
        ),
        conversation_id=post_id(PLATFORM, root),
        in_reply_to=ReplyTarget(post_id=post_id(PLATFORM, parent)) if parent else None,
        mentions=text_mentions(text),
        hashtags=unique(strings(tags) + text_hashtags(text)),
        links=unique(hrefs + text_links(text)),
    )
