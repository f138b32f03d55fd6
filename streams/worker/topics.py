"""Every Faust topic of the pipeline, named from settings (prefix + name + version).

Payloads are bytes encoded by the pydantic models' own serializer
(``model_dump_json``), never Faust's codecs, so that non-Faust subscribers read
exactly what ``schemas/json`` documents. Keys are UTF-8 strings.
"""

from __future__ import annotations

import faust

from streams import topic_names as names
from streams.worker.app import app, settings


def _topic(name: str) -> faust.TopicT:
    return app.topic(
        settings.topic(name),
        key_type=str,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
    )


raw_topic = _topic(names.RAW)
normalized_topic = _topic(names.NORMALIZED)
enriched_topic = _topic(names.ENRICHED)
alerts_topic = _topic(names.ALERTS)
dlq_topic = _topic(names.DLQ)
by_id_topic = _topic(names.BY_ID)
