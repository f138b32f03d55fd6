"""Generic pushes from platforms without a dedicated adapter (the signed webhook).

Accepted shape (JSON object; ``?`` marks optional fields)::

    {
      "platform": "forum",            # [a-z0-9][a-z0-9_-]{0,31}
      "id": "8812",                   # native id (or already "forum:8812")
      "text": "...",
      "created_at": "2024-05-01T10:00:00Z",   # ISO 8601 / RFC 2822 / epoch seconds
      "author": {"id": "u7", "handle"?, "display_name"?, "bio"?,
                 "followers"?, "following"?, "verified"?},
      "kind"?: "post" | "edit" | "delete",
      "url"?, "lang"?,
      "conversation_id"?: "8800",     # native root id; default: the post itself
      "in_reply_to"?: "8805" | {"post_id": "8805", "author_id"?: "u3"},
      "mentions"?, "hashtags"?, "links"?: [str],   # default: found in the text
      "metrics"?: {"likes"?, "shares"?, "replies"?}
    }

Ids are native and get the ``platform:`` prefix (a value already carrying it
is kept). ``is_org_account`` is not accepted: only the organisation profile
decides who "we" are.
"""

from __future__ import annotations

from typing import Any

from processors.adapters.common import (
    PLATFORM_NAME,
    as_dict,
    author,
    build_post,
    id_value,
    maybe_json,
    opt_bool,
    opt_count,
    opt_dict,
    opt_id,
    opt_list,
    opt_str,
    parse_time,
    post_id,
    req_dict,
    req_id,
    req_str,
    strings,
    text_hashtags,
    text_links,
    text_mentions,
)
from processors.adapters.errors import INVALID_VALUE, AdapterError
from schemas.models import CanonicalPost, MessageKind, RawEnvelope, ReplyTarget

_KINDS: dict[str, MessageKind] = {"post": "post", "edit": "edit", "delete": "delete"}


def _prefixed(platform: str, native: str) -> str:
    return native if native.startswith(f"{platform}:") else post_id(platform, native)


def _reply(platform: str, value: Any) -> ReplyTarget | None:
    if value is None:
        return None
    if isinstance(value, dict):
        target = value
        parent = req_id(target, "post_id", "payload.in_reply_to")
        parent_author = opt_id(target, "author_id", "payload.in_reply_to")
    else:
        parent, parent_author = id_value(value, "payload.in_reply_to"), None
    return ReplyTarget(
        post_id=_prefixed(platform, parent),
        author_id=_prefixed(platform, parent_author) if parent_author else None,
    )


def normalize_webhook(envelope: RawEnvelope) -> CanonicalPost:
    data = as_dict(maybe_json(envelope.payload, "payload"), "payload")
    where = "payload"
    platform = req_str(data, "platform", where)
    if not PLATFORM_NAME.match(platform):
        raise AdapterError(
            INVALID_VALUE, f"{where}.platform: {platform[:40]!r} is not a platform name"
        )
    kind_name = opt_str(data, "kind", where) or "post"
    kind = _KINDS.get(kind_name)
    if kind is None:
        raise AdapterError(INVALID_VALUE, f"{where}.kind: {kind_name[:20]!r}")
    pid = _prefixed(platform, req_id(data, "id", where))
    text = req_str(data, "text", where) if kind != "delete" or "text" in data else ""
    who = req_dict(data, "author", where)
    awhere = f"{where}.author"
    conversation = opt_id(data, "conversation_id", where)
    metrics = opt_dict(data, "metrics", where) or {}
    mwhere = f"{where}.metrics"
    listed = {key: strings(opt_list(data, key, where)) for key in ("mentions", "hashtags", "links")}
    return build_post(
        envelope,
        kind=kind,
        id=pid,
        platform=platform,
        url=opt_str(data, "url", where),
        created_at=parse_time(data.get("created_at"), f"{where}.created_at"),
        lang=opt_str(data, "lang", where),
        text=text,
        author=author(
            id=_prefixed(platform, req_id(who, "id", awhere)),
            handle=opt_str(who, "handle", awhere),
            display_name=opt_str(who, "display_name", awhere),
            bio=opt_str(who, "bio", awhere),
            followers=opt_count(who, "followers", awhere),
            following=opt_count(who, "following", awhere),
            verified=opt_bool(who, "verified", awhere),
        ),
        conversation_id=_prefixed(platform, conversation) if conversation else pid,
        in_reply_to=_reply(platform, data.get("in_reply_to")),
        mentions=listed["mentions"] or text_mentions(text),
        hashtags=listed["hashtags"] or text_hashtags(text),
        links=listed["links"] or text_links(text),
        metrics={
            "likes": opt_count(metrics, "likes", mwhere) or 0,
            "shares": opt_count(metrics, "shares", mwhere) or 0,
            "replies": opt_count(metrics, "replies", mwhere) or 0,
        },
    )
