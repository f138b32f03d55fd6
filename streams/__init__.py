"""The stream side: pure steps, the Faust worker, ingest sources, Elasticsearch, the CLI."""
