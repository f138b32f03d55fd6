"""``townsquare enrich``: the streaming processors, offline, over one file.

Same adapters, same processors, same order as the pipeline (input order), no
Kafka: the way to try a profile on a dump and the way tests check scoring.
Records an adapter rejects are skipped, like the DLQ, and counted by reason
for the command's summary; the first few are logged with their position.
``TOWNSQUARE_PSEUDONYMISE`` applies here too: posts and profile are
pseudonymised with the same key as in the stream, so the output names nobody
and matches what the pipeline would index.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from processors.adapters import normalize
from processors.adapters.errors import AdapterError
from processors.enrich import enrich_offline
from processors.entities import EntityExtractor
from processors.privacy import Pseudonymiser, pseudonymise_organisation
from processors.profile import Organisation, load_profile
from schemas.models import CanonicalPost, RawEnvelope
from streams.classifiers import load_classifiers
from streams.profiles import profile_for
from streams.settings import Settings
from streams.sources.readers import envelope_format, iter_records

log = logging.getLogger("townsquare.offline")

LOGGED_REJECTS = 10
"""Rejected records logged one by one; the rest are only counted (a wrong file is thousands)."""


def canonical_posts(
    path: Path, fmt: str, rejected: Counter[str] | None = None
) -> Iterator[CanonicalPost]:
    """Read and normalize a file as the pipeline would; rejected records are counted.

    ``rejected`` (by reason) is filled as the posts are read; the first
    :data:`LOGGED_REJECTS` rejections are also logged with their position.
    """
    counts: Counter[str] = rejected if rejected is not None else Counter()
    adapter_format = envelope_format(fmt)
    for record in iter_records(path, fmt):
        envelope = RawEnvelope(
            ingest_id=uuid.uuid4().hex,
            source="replay",
            format=adapter_format,
            received_at=datetime.now(UTC),
            payload=record.payload,
            context={**record.context, "file": path.name, "position": record.position},
        )
        try:
            yield normalize(envelope)
        except AdapterError as exc:
            if counts.total() < LOGGED_REJECTS:
                log.warning(
                    "skipped record", extra={"position": record.position, "reason": exc.reason}
                )
            counts[exc.reason] += 1


def enrich_file(
    settings: Settings,
    path: Path,
    fmt: str,
    profile: Path | None,
    now: datetime | None,
    out: Path | None,
    on_post: Callable[[], object] | None = None,
    rejected: Counter[str] | None = None,
) -> int:
    """Write the enriched posts of ``path``; the count, and ``rejected`` filled by reason."""
    org: Organisation = load_profile(profile) if profile else profile_for(settings)
    posts = canonical_posts(path, fmt, rejected)
    if settings.pseudonymise and settings.pseudonym_key is not None:
        pseudonymiser = Pseudonymiser(settings.pseudonym_key.get_secret_value().encode())
        org = pseudonymise_organisation(org, pseudonymiser)
        posts = (pseudonymiser.pseudonymise_post(p) for p in posts)
    extractor = EntityExtractor(settings.spacy_model, org.gazetteer)
    classifiers = load_classifiers(settings)
    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    count = 0
    try:
        for post in enrich_offline(
            posts,
            extractor,
            org,
            now=now,
            batch_size=settings.batch_size,
            classifiers=classifiers,
        ):
            stream.write(post.model_dump_json() + "\n")
            count += 1
            if on_post is not None:
                on_post()
    finally:
        if out:
            stream.close()
    return count
