"""Erasures in force: who must be forgotten, and whether a post is theirs.

``townsquare forget`` records one :class:`~schemas.models.Erasure` per subject
on the compacted ``privacy.erasures`` topic; every normalize and enrich worker
reads that topic whole into an :class:`ErasureList` and drops the subject's
later posts (counted, never stored). The list is the only place the rule
lives, so the stage that drops a post and the command that removes the stored
ones cannot disagree about who is meant.

A subject is matched against both the author id (``platform:native id``) and
the normalized handle, because a person asking to be forgotten knows their
handle, while the platform's records carry the id; matching both costs two set
look-ups. A record scoped to a platform matches only that platform's posts.

Pure code: the caller feeds records in (``apply``) from wherever it reads them.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from processors.profile import normalize_handle
from schemas.models import Author, Erasure

__all__ = ["ErasureList", "subject_forms"]


def subject_forms(subject: str) -> tuple[str, str]:
    """The subject as an author id (stripped) and as a handle (normalized)."""
    stripped = subject.strip()
    return stripped, normalize_handle(stripped)


class ErasureList:
    """The erasures in force, by topic key; a tombstone (``None``) lifts one."""

    def __init__(self) -> None:
        self._records: dict[str, Erasure] = {}
        self._ids: dict[str | None, frozenset[str]] = {}
        self._handles: dict[str | None, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self._records)

    def apply(self, key: str, value: bytes | None) -> None:
        """Take one topic record; raises ``ValueError`` for a value that is not an erasure."""
        if value is None:
            self._records.pop(key, None)
        else:
            try:
                record = Erasure.model_validate_json(value)
            except (ValidationError, json.JSONDecodeError) as exc:
                raise ValueError(f"not an erasure record: {exc}") from exc
            self._records[key] = record
        self._rebuild()

    def add(self, record: Erasure) -> None:
        """Take a record directly (tests, and the command that just wrote it)."""
        self._records[record.key()] = record
        self._rebuild()

    def _rebuild(self) -> None:
        ids: dict[str | None, set[str]] = {}
        handles: dict[str | None, set[str]] = {}
        for record in self._records.values():
            as_id, as_handle = subject_forms(record.subject)
            ids.setdefault(record.platform, set()).add(as_id)
            handles.setdefault(record.platform, set()).add(as_handle)
        self._ids = {k: frozenset(v) for k, v in ids.items()}
        self._handles = {k: frozenset(v) for k, v in handles.items()}

    def matches(self, author: Author, platform: str) -> bool:
        """True when ``author``'s posts on ``platform`` fall under an erasure in force."""
        if not self._records:
            return False
        handle = normalize_handle(author.handle) if author.handle else None
        for scope in (None, platform):
            if author.id in self._ids.get(scope, ()):
                return True
            if handle is not None and handle in self._handles.get(scope, ()):
                return True
        return False
