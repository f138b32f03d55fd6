"""Elasticsearch: client construction, index setup, bulk indexing and search queries."""
