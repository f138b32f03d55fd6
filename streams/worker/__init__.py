"""The Faust worker: app, topics, tables, agents, dead letters, lag, NER pool."""
