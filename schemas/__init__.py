"""Message models, generated JSON Schemas and Elasticsearch index templates."""
