"""Faust agents, one module per stage: decode, pure step (``streams.steps``), send, ack.

Each module exposes ``register(app, topics, tables, resources)``, which
declares its agent on the given app; importing a module declares nothing.
:mod:`streams.worker.roles` maps role names to these modules.
"""
