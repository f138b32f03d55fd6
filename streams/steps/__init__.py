"""The stream stages as pure steps: plain records in, plain records out.

Each module holds one stage's whole decision (``route``, ``locate``,
``enrich``, ``collapse``) with no Faust, Kafka or Elasticsearch import, so the
topology (edits, late deletes, deletes that overtake their post, last write
wins) is tested list in, list out, in milliseconds. The Faust agents in
``streams.worker.agents`` only decode, call a step, send what it returns and
ack. Outputs name their topic by its logical name (``streams.topic_names``);
the agent maps the name to its Faust topic.
"""
