"""Field access, time parsing, safe JSON and post building shared by the adapters.

Adapters read untrusted platform JSON. Each accessor here either returns a
value of the promised type or raises :class:`AdapterError` naming the field,
so an adapter reads like a field mapping and still never leaks a ``KeyError``
or ``TypeError`` into the stream.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import ValidationError

from processors.adapters.errors import (
    INVALID_JSON,
    INVALID_TIMESTAMP,
    INVALID_UTF8,
    INVALID_VALUE,
    MISSING_FIELD,
    TOO_DEEP,
    TOO_LARGE,
    WRONG_TYPE,
    AdapterError,
)
from processors.text import find_hashtags, find_links, find_mentions, unique
from schemas.models import Author, CanonicalPost, RawEnvelope, ReplyTarget

MAX_TEXT_CHARS: Final = 20_000
"""Longer posts are not social posts; they would also dominate an NER batch."""
MAX_MARKUP_CHARS: Final = 5 * MAX_TEXT_CHARS
"""HTML is stripped only below this size, so a hostile page cannot cost a parse."""
MAX_ID_BYTES: Final = 512
"""Elasticsearch refuses longer ``_id`` values, and ids become ``_id``."""
MAX_DEPTH: Final = 64
"""No platform nests deeper; deeper JSON is an attack or a bug."""
UNKNOWN_AUTHOR: Final = "unknown"
"""Native author id used when a platform event (a delete) does not say who."""

PLATFORM_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
"""What a platform name looks like; it prefixes ids, so it must stay short and plain."""

_MIN_YEAR: Final = 1970
_MAX_YEAR: Final = 2200
_TWITTER_TIME: Final = "%a %b %d %H:%M:%S %z %Y"
_SNOWFLAKE_EPOCH_MS: Final = 1288834974657
_SNOWFLAKE_MIN: Final = 1 << 32  # ids below this predate snowflakes (Nov 2010)

JsonDict = dict[str, Any]


# --- JSON ---------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True if containers nest deeper than ``limit``; iterative so depth cannot blow the stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend(
            (child, depth + 1) for child in children if isinstance(child, dict | list | tuple)
        )
    return False


def loads_json(text: str | bytes, where: str = "payload") -> Any:
    """Strict JSON (no NaN) with a depth limit; only :class:`AdapterError` escapes.

    ``json.loads`` recurses in C and raises ``RecursionError`` on very deep
    input, and ``ValueError`` (not ``JSONDecodeError``) on integers longer than
    Python's digit limit: both are caught here.
    """
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise AdapterError(TOO_DEEP, f"{where}: JSON nests too deep to parse") from exc
    except UnicodeDecodeError as exc:
        raise AdapterError(INVALID_JSON, f"{where}: {exc}") from exc
    except ValueError as exc:
        raise AdapterError(INVALID_JSON, f"{where}: {exc}") from exc
    if json_depth_exceeds(value):
        raise AdapterError(TOO_DEEP, f"{where}: JSON nests deeper than {MAX_DEPTH} levels")
    if may_hold_lone_surrogate(text):
        _check_encodable(value, where)
    return value


_PAIR = r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_HALF = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
_PAIRS, _HALVES = re.compile(_PAIR), re.compile(_HALF)
_PAIRS_BYTES, _HALVES_BYTES = re.compile(_PAIR.encode()), re.compile(_HALF.encode())


def may_hold_lone_surrogate(text: str | bytes) -> bool:
    """A cheap trigger for the exact check: an escaped surrogate without its partner.

    Most records hold no surrogate escape at all, and a substring search
    settles those at memchr speed; the rest (escaped emoji pairs, say) drop
    their proper pairs and look for a half left over, two passes in C.
    """
    if isinstance(text, str):
        if "\\ud" not in text and "\\uD" not in text:
            return False
        return _HALVES.search(_PAIRS.sub("", text)) is not None
    if b"\\ud" not in text and b"\\uD" not in text:
        return False
    return _HALVES_BYTES.search(_PAIRS_BYTES.sub(b"", text)) is not None


def _check_encodable(value: Any, where: str) -> None:
    """Refuse a value holding an unpaired surrogate (valid JSON, but no UTF-8 can carry it).

    Caught here, at the one parse path, such a record is refused at the edge
    (or dead-lettered) instead of failing later in the producer, where a
    source would stop on it and a webhook sender would retry it forever.
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AdapterError(
            INVALID_UTF8, f"{where}: an unpaired surrogate (\\ud800-\\udfff)"
        ) from exc


def utf8_size_exceeds(text: str, limit: int) -> bool:
    """True if ``text`` takes more than ``limit`` bytes as UTF-8 (encoded only when in doubt)."""
    if len(text) > limit:
        return True
    if len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > limit


def parse_untrusted_json(data: str | bytes, max_bytes: int, where: str = "payload") -> Any:
    """Untrusted JSON text to a value, size first, then UTF-8, then :func:`loads_json`.

    The one parse path for JSON read from the outside (a websocket frame, a
    stream line, an API page): at most ``max_bytes`` bytes (UTF-8), nested at
    most :data:`MAX_DEPTH` deep, strict (no NaN). Whatever is wrong, only
    :class:`AdapterError` escapes, its ``reason`` one of ``too_large``,
    ``invalid_utf8``, ``invalid_json`` or ``too_deep``.
    """
    if isinstance(data, str):
        if utf8_size_exceeds(data, max_bytes):
            raise AdapterError(TOO_LARGE, f"{where}: more than {max_bytes} bytes")
        return loads_json(data, where)
    if len(data) > max_bytes:
        raise AdapterError(TOO_LARGE, f"{where}: {len(data)} bytes (limit {max_bytes})")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AdapterError(INVALID_UTF8, f"{where}: {exc.reason} at byte {exc.start}") from exc
    return loads_json(text, where)


def parse_json_object(data: str | bytes, max_bytes: int, where: str = "payload") -> JsonDict:
    """:func:`parse_untrusted_json` that also insists on an object (``wrong_type`` otherwise)."""
    value = parse_untrusted_json(data, max_bytes, where)
    if not isinstance(value, dict):
        raise AdapterError(WRONG_TYPE, f"{where}: expected a JSON object, got {_type_name(value)}")
    return value


def maybe_json(value: Any, where: str) -> Any:
    """A payload that arrived as a JSON string (Mastodon streaming, JSONL replay) is parsed."""
    if isinstance(value, str):
        if len(value) > MAX_MARKUP_CHARS * 4:
            raise AdapterError(TOO_LARGE, f"{where}: {len(value)} characters")
        return loads_json(value, where)
    return value


# --- field access ---------------------------------------------------------------


def _type_name(value: Any) -> str:
    return type(value).__name__


def as_dict(value: Any, where: str) -> JsonDict:
    if value is None:
        raise AdapterError(MISSING_FIELD, f"{where}: missing")
    if not isinstance(value, dict):
        raise AdapterError(WRONG_TYPE, f"{where}: expected an object, got {_type_name(value)}")
    return value


def req(obj: Mapping[str, Any], key: str, where: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise AdapterError(MISSING_FIELD, f"{where}.{key}: missing")
    return value


def req_dict(obj: Mapping[str, Any], key: str, where: str) -> JsonDict:
    return as_dict(obj.get(key), f"{where}.{key}")


def opt_dict(obj: Mapping[str, Any], key: str, where: str) -> JsonDict | None:
    value = obj.get(key)
    if value is None:
        return None
    return as_dict(value, f"{where}.{key}")


def opt_list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise AdapterError(WRONG_TYPE, f"{where}.{key}: expected a list, got {_type_name(value)}")
    return value


def req_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = req(obj, key, where)
    if not isinstance(value, str):
        raise AdapterError(WRONG_TYPE, f"{where}.{key}: expected a string, got {_type_name(value)}")
    return value


def opt_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise AdapterError(WRONG_TYPE, f"{where}.{key}: expected a string, got {_type_name(value)}")
    return value


def id_value(value: Any, where: str) -> str:
    """Platform ids arrive as strings or (older APIs, CSV exports) as numbers."""
    if value is None:
        raise AdapterError(MISSING_FIELD, f"{where}: missing")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise AdapterError(WRONG_TYPE, f"{where}: expected an id, got {_type_name(value)}")
    text = str(value).strip()
    if not text:
        raise AdapterError(MISSING_FIELD, f"{where}: empty")
    return check_id(text, where)


_NOT_IN_IDS = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def check_id(text: str, where: str) -> str:
    """Refuse an id that could not serve as a key everywhere it is used.

    Ids become Kafka keys, Elasticsearch ``_id`` values and table keys, and
    are printed in terminals: no whitespace, control or format characters
    (bidi overrides, zero-width joiners), line separators or surrogates, so
    no two ids can look alike but differ. Code points newer than this
    Python's Unicode tables pass: platforms adopt new scripts first.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise AdapterError(TOO_LARGE, f"{where}: id longer than {MAX_ID_BYTES} bytes")
    if any(ch.isspace() or unicodedata.category(ch) in _NOT_IN_IDS for ch in text):
        raise AdapterError(INVALID_VALUE, f"{where}: id contains whitespace or control characters")
    return text


def req_id(obj: Mapping[str, Any], key: str, where: str) -> str:
    return id_value(obj.get(key), f"{where}.{key}")


def opt_id(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    return id_value(value, f"{where}.{key}")


def opt_count(obj: Mapping[str, Any], key: str, where: str) -> int | None:
    """A non-negative count; negative scores (Reddit) become 0 because metrics are counts."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdapterError(WRONG_TYPE, f"{where}.{key}: expected a number, got {_type_name(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise AdapterError(INVALID_VALUE, f"{where}.{key}: not a finite number")
    return max(0, int(value))


def opt_bool(obj: Mapping[str, Any], key: str, where: str) -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise AdapterError(
            WRONG_TYPE, f"{where}.{key}: expected a boolean, got {_type_name(value)}"
        )
    return value


def context_str(envelope: RawEnvelope, key: str) -> str | None:
    """A fact the reader put in the envelope context, as a string (ids may be numbers)."""
    value = envelope.context.get(key)
    if value is None or value == "":
        return None
    return id_value(value, f"context.{key}")


# --- ids ------------------------------------------------------------------------


def post_id(platform: str, native: str) -> str:
    """``platform:native_id``, the idempotency key; bounded because it becomes ``_id``."""
    value = f"{platform}:{native}"
    if len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise AdapterError(TOO_LARGE, f"id longer than {MAX_ID_BYTES} bytes")
    return value


def snowflake_time(native_id: str) -> datetime | None:
    """The creation time encoded in an X/Twitter snowflake id (ms precision), if it is one."""
    if not native_id.isdigit() or len(native_id) > 20:
        return None
    number = int(native_id)
    if number < _SNOWFLAKE_MIN:
        return None
    return from_epoch(((number >> 22) + _SNOWFLAKE_EPOCH_MS) / 1000, "snowflake")


# --- time -----------------------------------------------------------------------


def from_epoch(seconds: float, where: str) -> datetime:
    if not math.isfinite(seconds):
        raise AdapterError(INVALID_TIMESTAMP, f"{where}: not a finite number")
    try:
        value = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise AdapterError(INVALID_TIMESTAMP, f"{where}: {seconds} out of range") from exc
    return _in_range(value, where)


def _in_range(value: datetime, where: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise AdapterError(INVALID_TIMESTAMP, f"{where}: out of range") from exc
    if not _MIN_YEAR <= value.year < _MAX_YEAR:
        raise AdapterError(INVALID_TIMESTAMP, f"{where}: year {value.year} out of range")
    return value


def _parse_time_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.strptime(text, _TWITTER_TIME)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_time(value: Any, where: str) -> datetime:
    """A timestamp in any form platforms use, as an aware UTC datetime.

    Accepted: ISO 8601 (naive means UTC), the Twitter v1 form
    ``Tue Oct 31 22:10:47 +0000 2017``, RFC 2822 (RSS), epoch seconds, and a
    ``time.struct_time`` serialised as a list (feedparser's ``*_parsed``, UTC).
    """
    if value is None:
        raise AdapterError(MISSING_FIELD, f"{where}: missing")
    if isinstance(value, bool):
        raise AdapterError(WRONG_TYPE, f"{where}: expected a timestamp, got bool")
    if isinstance(value, int | float):
        return from_epoch(float(value), where)
    if isinstance(value, list | tuple):
        if len(value) < 6 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value[:6]
        ):
            raise AdapterError(INVALID_TIMESTAMP, f"{where}: not a time tuple")
        try:
            year, month, day, hour, minute, second = value[:6]
            parsed = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except (ValueError, OverflowError) as exc:
            raise AdapterError(INVALID_TIMESTAMP, f"{where}: {exc}") from exc
        return _in_range(parsed, where)
    if not isinstance(value, str):
        raise AdapterError(WRONG_TYPE, f"{where}: expected a timestamp, got {_type_name(value)}")
    text = value.strip()
    if not text or len(text) > 64:
        raise AdapterError(INVALID_TIMESTAMP, f"{where}: {text[:64]!r} is not a timestamp")
    parsed_text = _parse_time_text(text)
    if parsed_text is None:
        raise AdapterError(INVALID_TIMESTAMP, f"{where}: {text!r} is not a timestamp")
    return _in_range(parsed_text, where)


# --- text -----------------------------------------------------------------------

_BIDI_CONTROLS: Final = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
"""Bidi embeddings, overrides and isolates: they make text display other than it reads."""
_CLEAN_TABLE: Final[dict[int, None]] = {
    code: None
    for code in (*range(0x00, 0x20), *range(0x7F, 0xA0), *_BIDI_CONTROLS)
    if code not in (0x09, 0x0A, 0x0D)  # tab and newline stay; CR becomes a newline below
}
"""Every Unicode ``Cc`` character (C0, DEL, C1) but tab, newline and CR; the bidi controls."""
_POST_TEXT_FIELDS: Final = ("text", "url", "lang")
_POST_LIST_FIELDS: Final = ("mentions", "hashtags", "links")
_AUTHOR_TEXT_FIELDS: Final = ("handle", "display_name", "bio")


def clean_text(text: str) -> str:
    """``text`` without control characters, with ``\r\n`` and ``\r`` as ``\n``.

    Post text reaches terminals, Kibana and spaCy: an ESC starts a terminal
    escape sequence, a bidi override shows a line other than the one stored,
    and neither carries meaning. Tabs, newlines, emoji, ZWJ sequences and every
    other character are kept, so cleaning clean text changes nothing.
    """
    if text.isprintable():  # the common case: no Cc at all (isprintable is False for \n)
        return text
    cleaned = text.translate(_CLEAN_TABLE)
    if "\r" in cleaned:
        cleaned = cleaned.replace("\r\n", "\n").replace("\r", "\n")
    return cleaned


def _clean_strings(fields: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    # Only strings: a value of the wrong type is left for the model to reject.
    return {
        key: clean_text(value) if key in names and isinstance(value, str) else value
        for key, value in fields.items()
    }


def _clean_list(values: list[Any]) -> list[Any]:
    # Entities were found in the raw text: cleaned, one may now repeat another or be
    # empty, and is then dropped. Clean values stay as they are, repeats included, so
    # a replayed post comes back unchanged.
    out: list[Any] = []
    for value in values:
        if isinstance(value, str):
            cleaned = clean_text(value)
            if cleaned != value and (not cleaned or cleaned in out):
                continue
            value = cleaned
        out.append(value)
    return out


def clean_author_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The author's handle, display name and bio through :func:`clean_text`; ids stay as given."""
    return _clean_strings(fields, _AUTHOR_TEXT_FIELDS)


def clean_post_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Every text field of a canonical post (and of its author) through :func:`clean_text`.

    Applied where posts are built, after HTML is turned into text (an entity
    such as ``&#27;`` decodes to ESC), so no adapter can forget a field. Ids are
    never changed: one with control characters is rejected by :func:`id_value`.
    """
    out = _clean_strings(fields, _POST_TEXT_FIELDS)
    for name in _POST_LIST_FIELDS:
        if isinstance(out.get(name), list):
            out[name] = _clean_list(out[name])
    who = out.get("author")
    if isinstance(who, Author):
        texts = {name: getattr(who, name) for name in _AUTHOR_TEXT_FIELDS}
        out["author"] = who.model_copy(update=clean_author_fields(texts))
    elif isinstance(who, Mapping):
        out["author"] = clean_author_fields(who)
    return out


def check_text(text: str, where: str = "text") -> str:
    if len(text) > MAX_TEXT_CHARS:
        raise AdapterError(TOO_LARGE, f"{where}: {len(text)} characters (limit {MAX_TEXT_CHARS})")
    return text


def check_markup(markup: str, where: str) -> str:
    if len(markup) > MAX_MARKUP_CHARS:
        raise AdapterError(TOO_LARGE, f"{where}: {len(markup)} characters of markup")
    return markup


def text_mentions(text: str) -> list[str]:
    return unique([s.value for s in find_mentions(text)])


def text_hashtags(text: str) -> list[str]:
    return unique([s.value for s in find_hashtags(text)])


def text_links(text: str) -> list[str]:
    return unique([s.value for s in find_links(text)])


def strings(values: list[Any]) -> list[str]:
    """Platform entity lists, keeping the non-empty strings, de-duplicated."""
    return unique([v.lstrip("@#") for v in values if isinstance(v, str) and v.strip("@# ")])


# --- building -----------------------------------------------------------------------


def from_validation_error(exc: ValidationError, where: str) -> AdapterError:
    """Maps pydantic's first error to our reasons, keeping its text as the detail."""
    errors = exc.errors(include_url=False)
    first = errors[0] if errors else {"type": "", "loc": ()}
    kind = str(first.get("type", ""))
    loc = ".".join(str(p) for p in first.get("loc", ()))
    if kind == "missing" or (first.get("input", "") is None and kind.endswith("_type")):
        reason = MISSING_FIELD
    elif kind.startswith(("datetime", "date", "time")):
        reason = INVALID_TIMESTAMP
    elif kind in {"greater_than_equal", "less_than_equal", "literal_error", "extra_forbidden"}:
        reason = INVALID_VALUE
    else:
        reason = WRONG_TYPE
    message = str(first.get("msg", ""))[:200]
    return AdapterError(reason, f"{where}.{loc}: {message}" if loc else f"{where}: {message}")


def reply_target(
    platform: str, parent: str | None, parent_author: str | None = None
) -> ReplyTarget | None:
    """``in_reply_to`` from native ids; None for a post that replies to nothing."""
    if not parent:
        return None
    return ReplyTarget(
        post_id=post_id(platform, parent),
        author_id=post_id(platform, parent_author) if parent_author else None,
    )


def author(**fields: Any) -> Author:
    try:
        return Author(**clean_author_fields(fields))
    except ValidationError as exc:
        raise from_validation_error(exc, "author") from exc


def build_post(envelope: RawEnvelope, **fields: Any) -> CanonicalPost:
    """The canonical post, stamped with the envelope's ingest id and receive time."""
    fields.setdefault("ingest_id", envelope.ingest_id)
    fields.setdefault("received_at", envelope.received_at)
    fields = clean_post_fields(fields)
    text = fields.get("text")
    if isinstance(text, str):
        check_text(text)
    try:
        return CanonicalPost(**fields)
    except ValidationError as exc:
        raise from_validation_error(exc, "post") from exc


def delete_post(
    envelope: RawEnvelope,
    platform: str,
    native_id: str,
    *,
    at: datetime | None,
    author_native: str | None = None,
) -> CanonicalPost:
    """A ``kind="delete"`` message: only the id matters downstream, the rest is filler.

    A delete carries no thread; its conversation id is the reader's
    ``context["conversation_id"]`` if known, else the post's own id.
    """
    pid = post_id(platform, native_id)
    known_conversation = context_str(envelope, "conversation_id")
    return build_post(
        envelope,
        kind="delete",
        id=pid,
        platform=platform,
        created_at=at or envelope.received_at,
        author=author(id=post_id(platform, author_native or UNKNOWN_AUTHOR)),
        conversation_id=post_id(platform, known_conversation) if known_conversation else pid,
    )
