"""The Faust worker: the app factory, topics, tables, roles, agents, dead letters, lag, NER pool.

Nothing here does work at import: :func:`streams.worker.app.create_app` wires
an app for the roles a worker runs, and :mod:`streams.worker.resources` builds
the profile, the NER pool and the Elasticsearch client when the worker starts.
"""
