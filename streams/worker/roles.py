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
    "index": ("streams.worker.agents.index",),
}
"""Role name -> the modules that declare its agents, in pipeline order."""

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


def register(
    app: faust.App, topics: Topics, tables: Tables, resources: Resources, roles: Iterable[str]
) -> list[AgentT]:
    """Declare the agents of ``roles`` (already resolved) on ``app``."""
    return [
        importlib.import_module(module).register(app, topics, tables, resources)
        for role in roles
        for module in ROLES[role]
    ]
