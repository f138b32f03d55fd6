"""Elasticsearch: client construction, index setup, the bulk sink and search queries."""
