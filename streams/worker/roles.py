"""Worker roles: which stages' agents a worker runs (``townsquare worker --role``).

Each role is one stage, so a deployment can scale normalize, locate, enrich
and index independently; ``all`` runs every stage in one worker. A role's
agent module is imported only when the role is wanted, so a normalize worker
never imports spaCy or the Elasticsearch client.

``sink`` is the old name of ``index``: it is still accepted, with a warning,
so an existing deployment keeps working until its command line is updated.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Iterable

import faust
from faust.types import AgentT

from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

log = logging.getLogger("townsquare.worker")

ROLES: dict[str, tuple[str, ...]] = {
    "normalize": ("streams.worker.agents.normalize",),
    "locate": ("streams.worker.agents.locate",),
    "enrich": ("streams.worker.agents.enrich",),
    "index": (
        "streams.worker.agents.index",
        "streams.worker.agents.index_conversations",
        "streams.worker.agents.index_alerts",
    ),
    "alert": (
        "streams.worker.agents.alert",
        "streams.worker.agents.alert_deadlines",
        "streams.worker.agents.alert_spikes",
        "streams.worker.agents.alert_silence",
    ),
    "notify": ("streams.worker.agents.notify",),
}
"""Role name -> the modules that declare its agents, in pipeline order."""

SIDE_ROLES: tuple[str, ...] = ("alert", "notify")
"""Roles that read topics the pipeline's own roles also read (posts.enriched, alerts, ...).

A Kafka consumer group gives each partition to one member, so an ``alert``
worker in the pipeline's group would take partitions of ``posts.enriched``
away from ``index``. A worker that runs only side roles therefore joins a
group of its own (:func:`consumer_group`); one that runs a pipeline role too
(``all``) stays in the pipeline's group and runs every agent on its topics.
"""

DEPRECATED: dict[str, str] = {"sink": "index"}
"""Old role names still accepted, and the role each now means."""


def resolve(roles: Iterable[str]) -> list[str]:
    """The stages ``roles`` ask for, in pipeline order ("all" means every stage).

    Raises ``ValueError`` for an unknown role, naming the choices.
    """
    wanted: set[str] = set()
    for role in roles:
        if role == "all":
            wanted.update(ROLES)
            continue
        if role in DEPRECATED:
            new = DEPRECATED[role]
            message = f"role {role!r} is deprecated; use {new!r}"
            warnings.warn(message, DeprecationWarning, stacklevel=2)
            log.warning(message)
            role = new
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; choose from {', '.join(ROLES)} or all")
        wanted.add(role)
    return [role for role in ROLES if role in wanted]


def consumer_group(app_id: str, roles: Iterable[str]) -> str:
    """The consumer group (and Faust app id) of a worker running ``roles`` (resolved).

    ``<app id>`` for any worker with a pipeline role, ``<app id>-alert``,
    ``<app id>-notify`` or ``<app id>-alert-notify`` for one with side roles
    only. The app id also prefixes the tables' changelog topics, so the alert
    role's state lives under the group it runs in: run it either inside
    ``all`` workers or on its own, not both (both would raise every alert
    twice, under the same ids).
    """
    wanted = list(roles)
    if wanted and all(role in SIDE_ROLES for role in wanted):
        return "-".join([app_id, *(role for role in SIDE_ROLES if role in wanted)])
    return app_id


def register(
    app: faust.App, topics: Topics, tables: Tables, resources: Resources, roles: Iterable[str]
) -> list[AgentT]:
    """Declare the agents of ``roles`` (already resolved) on ``app``."""
    return [
        importlib.import_module(module).register(app, topics, tables, resources)
        for role in roles
        for module in ROLES[role]
    ]
