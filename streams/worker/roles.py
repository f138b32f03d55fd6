"""Faust agents, one module per stage; importing a module registers its agent.

The worker imports only the roles it runs (``townsquare worker --role``), so a
deployment can scale normalize, enrich and sink independently.
"""

from __future__ import annotations

import importlib

ROLES: dict[str, str] = {
    "normalize": "streams.worker.agents.normalize",
    "enrich": "streams.worker.agents.enrich",
    "sink": "streams.worker.agents.index",
}


def register(roles: list[str]) -> None:
    """Import the agent modules for ``roles`` ("all" means every stage)."""
    wanted = list(ROLES) if "all" in roles else roles
    for role in wanted:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; choose from {', '.join(ROLES)} or all")
        importlib.import_module(ROLES[role])
