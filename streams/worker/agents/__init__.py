"""Faust agents, one module per stage: decode, pure step, send, ack."""
