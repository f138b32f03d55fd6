"""Pure enrichment code: plain records in, plain records out.

Nothing here imports Kafka, Faust or Elasticsearch, so every function can be
tested list in, list out, and reused offline (``townsquare enrich``).
"""
