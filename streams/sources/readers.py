"""File readers for replay: a file in, raw records out, resumable by position.

A reader only splits a file into records and adds what the record cannot say
about itself (its thread root, its neighbour turns) as ``context``; turning a
record into a canonical post is the adapters' job in the normalize stage, so a
malformed record still travels to ``posts.raw`` and is dead-lettered there
with the reason, rather than vanishing here.

``Record.position`` is what the ingest cursor stores: the 0-based line number
for JSONL, the 0-based data row number for CSV (a quoted cell may span lines),
and the 0-based record (turn) index for the customer-care JSON array.
``iter_records(path, fmt, start=p)`` yields exactly the records whose position
is ``>= p``, so resuming after the last acknowledged record ``p`` uses
``start=p + 1``.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

READER_FORMATS: Final[tuple[str, ...]] = (
    "jsonl",
    "twcs-csv",
    "customer-care-json",
    "x-v2",
    "mastodon",
    "bluesky-jetstream",
)
_JSONL_FORMATS: Final = frozenset({"jsonl", "x-v2", "mastodon", "bluesky-jetstream"})
_ENVELOPE_FORMATS: Final = {"jsonl": "canonical"}
_FLOAT_ID: Final = re.compile(r"^(\d+)\.0+$")
_CHUNK: Final = 1 << 16
SNIFF_RECORDS: Final = 20
"""How many leading records :func:`check_file_format` reads to recognise a file."""


@dataclass(frozen=True)
class Record:
    payload: Any
    context: dict[str, Any]
    position: int


class UnknownFormat(ValueError):
    """A reader format nobody knows; the message lists the ones there are."""


def check_format(fmt: str) -> str:
    """``fmt`` if it is a reader format, else :class:`UnknownFormat` naming the choices.

    The one check: the replay and enrich commands and the readers themselves
    all call it, so the choices and the message never drift apart.
    """
    if fmt not in READER_FORMATS:
        raise UnknownFormat(f"unknown format {fmt!r}; choose one of: {', '.join(READER_FORMATS)}")
    return fmt


class WrongFormat(ValueError):
    """A file whose first records read as another format; the message says which to pass."""


def envelope_format(fmt: str) -> str:
    """The adapter format (``RawEnvelope.format``) for records of reader format ``fmt``."""
    check_format(fmt)
    return _ENVELOPE_FORMATS.get(fmt, fmt)


def iter_records(path: Path, fmt: str, start: int = 0) -> Iterator[Record]:
    """Records of ``path`` from position ``start`` on, read lazily."""
    check_format(fmt)
    if fmt in _JSONL_FORMATS:
        return _jsonl(path, start)
    if fmt == "twcs-csv":
        return _twcs(path, start)
    return _customer_care(path, start)


def count_records(path: Path, fmt: str) -> int:
    """How many records ``iter_records`` yields from the start (for progress bars)."""
    check_format(fmt)
    if fmt in _JSONL_FORMATS:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    if fmt == "twcs-csv":
        with _open_csv(path) as handle:
            return sum(1 for _ in csv.DictReader(handle))
    return sum(1 for _ in _customer_care(path, 0))


def check_file_format(path: Path, fmt: str, sample: int = SNIFF_RECORDS) -> None:
    """Refuse a file that reads as another format: :class:`WrongFormat` names the right one.

    Why: a wrong ``--format`` does not fail loudly on its own. Every record
    reaches the adapter as garbage and is refused one by one (a hundred log
    lines, "enriched 0 posts", or a replay that fills the dead-letter topic).
    So the first ``sample`` records are read as ``fmt`` and put through its
    adapter; when none is accepted but some are under another reader format,
    the run stops before it starts. A file that no format accepts passes:
    then the records themselves are bad, and the run reports them as such.
    The adapters are borrowed only to recognise records; turning records
    into posts stays the normalize stage's job.
    """
    check_format(fmt)
    if _accepted(path, fmt, sample) > 0:
        return
    best, best_count = None, 0
    for other in READER_FORMATS:
        if other == fmt:
            continue
        count = _accepted(path, other, sample)
        if count > best_count:
            best, best_count = other, count
    if best is not None:
        raise WrongFormat(f"{path} looks like {best}, not {fmt}: pass --format {best}")


def _sample(path: Path, fmt: str, sample: int) -> list[Record]:
    """The first records as ``fmt`` reads them, or none if the file is not that shape at all.

    CSV rows are read without the thread index (a full pass over the file),
    which only adds context the adapters do not need to accept a row.
    """
    try:
        if fmt == "twcs-csv":
            with _open_csv(path) as handle:
                rows = itertools.islice(csv.DictReader(handle), sample)
                return [
                    Record({("_extra" if k is None else k): v for k, v in row.items()}, {}, n)
                    for n, row in enumerate(rows)
                ]
        return list(itertools.islice(iter_records(path, fmt), sample))
    except (ValueError, csv.Error, RecursionError):  # not a JSON array, a broken CSV quote
        return []


def _accepted(path: Path, fmt: str, sample: int) -> int:
    """How many of the first records the adapter of ``fmt`` turns into posts."""
    from processors.adapters import normalize
    from processors.adapters.errors import AdapterError
    from schemas.models import RawEnvelope

    accepted = 0
    for record in _sample(path, fmt, sample):
        envelope = RawEnvelope(
            ingest_id=uuid.uuid4().hex,
            source="replay",
            format=envelope_format(fmt),
            received_at=datetime.now(UTC),
            payload=record.payload,
            context={**record.context, "file": path.name, "position": record.position},
        )
        try:
            normalize(envelope)
        except AdapterError:
            continue
        accepted += 1
    return accepted


# --- JSONL --------------------------------------------------------------------------


def _parse_line(text: str) -> Any:
    """The JSON value of a line, or the line itself so the normalize stage can reject it."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _jsonl(path: Path, start: int) -> Iterator[Record]:
    context = {"file": path.name}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle):
            if number < start or not raw.strip():
                continue
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            yield Record(payload=_parse_line(text), context=dict(context), position=number)


# --- twcs CSV -------------------------------------------------------------------------


def _open_csv(path: Path) -> IO[str]:
    return path.open("r", encoding="utf-8", errors="replace", newline="")


def twcs_id(value: Any) -> str | None:
    """An id cell: empty is none, ``848.0`` (pandas' float export) is ``848``."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    match = _FLOAT_ID.match(text)
    return match.group(1) if match else text


def _thread_index(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Each tweet's parent and author; one pass, only the ids kept in memory."""
    parents: dict[str, str] = {}
    authors: dict[str, str] = {}
    with _open_csv(path) as handle:
        for row in csv.DictReader(handle):
            tweet = twcs_id(row.get("tweet_id"))
            if tweet is None:
                continue
            parent = twcs_id(row.get("in_response_to_tweet_id"))
            if parent is not None:
                parents[tweet] = parent
            author = row.get("author_id")
            if isinstance(author, str) and author.strip():
                authors[tweet] = author.strip()
    return parents, authors


def thread_roots(parents: dict[str, str]) -> dict[str, str]:
    """Root of every tweet that has a parent: follow parents until a tweet without one.

    A parent that is not in the file is the root (the thread started outside
    the export). A cycle (a broken export) ends at the first tweet seen twice.
    Iterative with memoisation, so long chains cost linear time and no stack.
    """
    roots: dict[str, str] = {}
    for tweet in parents:
        if tweet in roots:
            continue
        chain = [tweet]
        seen = {tweet}
        current = tweet
        while True:
            parent = parents.get(current)
            if parent is None:
                root = current
                break
            if parent in roots:
                root = roots[parent]
                break
            if parent in seen:
                root = parent
                break
            chain.append(parent)
            seen.add(parent)
            current = parent
        for member in chain:
            roots[member] = root
    return roots


def _twcs(path: Path, start: int) -> Iterator[Record]:
    parents, authors = _thread_index(path)
    roots = thread_roots(parents)
    with _open_csv(path) as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            if number < start:
                continue
            payload = {("_extra" if key is None else key): value for key, value in row.items()}
            tweet = twcs_id(row.get("tweet_id"))
            context: dict[str, Any] = {"file": path.name}
            if tweet is not None:
                context["conversation_root"] = roots.get(tweet, tweet)
                parent = parents.get(tweet)
                if parent is not None and parent in authors:
                    context["in_reply_to_author"] = authors[parent]
            yield Record(payload=payload, context=context, position=number)


# --- customer-care JSON ------------------------------------------------------------------


def _json_array_items(handle: IO[str]) -> Iterator[Any]:
    """Elements of a top-level JSON array, decoded one at a time from a text stream.

    The data set is one array of conversations; parsing element by element
    keeps memory at one conversation plus a read chunk instead of the file.
    """
    decoder = json.JSONDecoder()
    buffer = ""
    eof = False
    opened = False

    def fill() -> bool:
        nonlocal buffer, eof
        chunk = handle.read(_CHUNK)
        if not chunk:
            eof = True
            return False
        buffer += chunk
        return True

    need_separator = False
    while True:
        buffer = buffer.lstrip()
        if not buffer and not eof and fill():
            continue
        if not opened:
            if not buffer:
                raise ValueError("empty file: expected a JSON array")
            if buffer[0] != "[":
                raise ValueError("expected a JSON array of conversations")
            buffer, opened = buffer[1:], True
            continue
        if not buffer:
            raise ValueError("truncated JSON array")
        if buffer[0] == "]":
            return
        if need_separator:
            if buffer[0] != ",":
                raise ValueError(f"expected ',' or ']' in the array, found {buffer[:20]!r}")
            buffer, need_separator = buffer[1:], False
            continue
        try:
            item, end = decoder.raw_decode(buffer)
        except json.JSONDecodeError:
            if eof or not fill():
                raise
            continue
        if end == len(buffer) and not eof and fill():
            # A number at the buffer's end may continue in the next chunk.
            continue
        buffer, need_separator = buffer[end:], True
        yield item


def _speaker(turn: Any) -> tuple[str | None, Any]:
    if not isinstance(turn, dict):
        return None, None
    for key, value in turn.items():
        if key == "agent" or (key.startswith("client") and key[6:].isdigit()) or key == "client":
            return key, value
    return None, None


def _header(dialog: Any) -> dict[str, Any]:
    header = dialog.get("dialogHeader") if isinstance(dialog, dict) else None
    return header if isinstance(header, dict) else {}


def _dialog_turns(dialog: Any) -> list[Any]:
    """The turns of one conversation, the agent's closing turn (``agentURL``) last.

    Anything that is not a conversation, or a turn that is not an object, is
    passed on as it is, for the adapter to reject with a reason.
    """
    if not isinstance(dialog, dict):
        return [dialog]
    content = dialog.get("dialogContent")
    turns: list[Any] = content if isinstance(content, list) else [content]
    header = _header(dialog)
    closing = dialog.get("agentURL")
    if isinstance(closing, dict) and closing.get("tweet_ID"):
        last = {
            "agent": header.get("company"),
            "message": closing.get("url_utterance"),
            "tweet_ID": closing.get("tweet_ID"),
        }
        if last["tweet_ID"] not in {t.get("tweet_ID") for t in turns if isinstance(t, dict)}:
            turns.append(last)
    return turns


def _customer_care(path: Path, start: int) -> Iterator[Record]:
    position = 0
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for index, dialog in enumerate(_json_array_items(handle)):
            turns = _dialog_turns(dialog)
            if position + len(turns) <= start:
                position += len(turns)
                continue
            header = _header(dialog)
            root = turns[0].get("tweet_ID") if turns and isinstance(turns[0], dict) else None
            previous: Any = None
            for turn_index, turn in enumerate(turns):
                if position >= start:
                    context: dict[str, Any] = {
                        "file": path.name,
                        "dialog_index": index,
                        "session_id": header.get("sessionID"),
                        "company": header.get("company"),
                        "conversation_id": root,
                        "turn_index": turn_index,
                    }
                    if previous is not None:
                        role, name = _speaker(previous)
                        context["in_reply_to"] = (
                            previous.get("tweet_ID") if isinstance(previous, dict) else None
                        )
                        context["in_reply_to_role"] = role
                        context["in_reply_to_name"] = name
                    yield Record(payload=turn, context=context, position=position)
                previous = turn
                position += 1
