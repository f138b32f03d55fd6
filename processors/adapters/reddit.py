"""Reddit listing children: ``t3`` submissions and ``t1`` comments.

Ids are Reddit fullnames (``reddit:t3_abc``, ``reddit:t1_def``) because that is
how comments point at their parent (``parent_id``) and their submission
(``link_id``); a submission is its own conversation root. Authors are
``reddit:<author_fullname>`` (``t2_...``), or ``reddit:u/<name>`` where the
listing omits the fullname; deleted authors become ``reddit:unknown``. A
submission's text is its title and body; a link post adds its URL to links.
``u/name`` references count as mentions next to ``@name``. Scores can be
negative; ``likes`` is the up-vote count, floored at 0.
``more`` children (collapsed comments) are not posts: ``unsupported_event``.
"""

from __future__ import annotations

import re
from typing import Any

from processors.adapters.common import (
    UNKNOWN_AUTHOR,
    as_dict,
    author,
    build_post,
    maybe_json,
    opt_count,
    opt_id,
    opt_str,
    parse_time,
    post_id,
    req_dict,
    req_id,
    req_str,
    text_hashtags,
    text_links,
    text_mentions,
)
from processors.adapters.errors import INVALID_VALUE, UNSUPPORTED_EVENT, AdapterError
from processors.text import unique
from schemas.models import Author, CanonicalPost, Metrics, RawEnvelope, ReplyTarget

PLATFORM = "reddit"
_USER_REF = re.compile(r"(?<![\w/])/?u/([A-Za-z0-9_-]{3,20})\b")
_DELETED = frozenset({"[deleted]", "[removed]"})


def _fullname(data: dict[str, Any], prefix: str, where: str) -> str:
    name = opt_id(data, "name", where)
    if name is None:
        name = f"{prefix}_{req_id(data, 'id', where)}"
    if not name.startswith(f"{prefix}_"):
        raise AdapterError(INVALID_VALUE, f"{where}.name: {name[:40]!r} is not a {prefix} fullname")
    return name


def _author(data: dict[str, Any], where: str) -> Author:
    name = opt_str(data, "author", where)
    fullname = opt_id(data, "author_fullname", where)
    if not name or name in _DELETED:
        return author(id=post_id(PLATFORM, UNKNOWN_AUTHOR))
    return author(id=post_id(PLATFORM, fullname or f"u/{name}"), handle=name)


def _mentions(text: str) -> list[str]:
    return unique(text_mentions(text) + [m.group(1) for m in _USER_REF.finditer(text)])


def normalize_reddit(envelope: RawEnvelope) -> CanonicalPost:
    child = as_dict(maybe_json(envelope.payload, "payload"), "payload")
    kind = req_str(child, "kind", "payload")
    if kind not in {"t1", "t3"}:
        raise AdapterError(UNSUPPORTED_EVENT, f"payload.kind: {kind[:20]!r} is not a post")
    where = "payload.data"
    data = req_dict(child, "data", "payload")
    native = _fullname(data, kind, where)
    permalink = opt_str(data, "permalink", where)
    url = f"https://www.reddit.com{permalink}" if permalink and permalink.startswith("/") else None
    in_reply_to = None
    links: list[str] = []
    if kind == "t3":
        title = req_str(data, "title", where)
        body = opt_str(data, "selftext", where) or ""
        text = f"{title}\n\n{body}".strip()
        conversation = native
        target = opt_str(data, "url", where)
        if target and target.startswith(("http://", "https://")) and not data.get("is_self"):
            links.append(target)
    else:
        text = req_str(data, "body", where)
        conversation = req_id(data, "link_id", where)
        parent = req_id(data, "parent_id", where)
        if not conversation.startswith("t3_") or not parent.startswith(("t1_", "t3_")):
            raise AdapterError(INVALID_VALUE, f"{where}: link_id/parent_id are not fullnames")
        in_reply_to = ReplyTarget(post_id=post_id(PLATFORM, parent))
    likes = opt_count(data, "ups", where)
    return build_post(
        envelope,
        id=post_id(PLATFORM, native),
        platform=PLATFORM,
        url=url,
        created_at=parse_time(data.get("created_utc"), f"{where}.created_utc"),
        lang=None,
        text=text,
        author=_author(data, where),
        conversation_id=post_id(PLATFORM, conversation),
        in_reply_to=in_reply_to,
        mentions=_mentions(text),
        hashtags=text_hashtags(text),
        links=unique(links + text_links(text)),
        metrics=Metrics(
            likes=likes if likes is not None else opt_count(data, "score", where) or 0,
            replies=opt_count(data, "num_comments", where) or 0,
        ),
    )
