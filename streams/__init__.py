"""The Faust app, its topics, tables and agents, ingest, the sink and the CLI."""
