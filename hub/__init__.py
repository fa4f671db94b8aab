"""The realtime layer: streams with offsets, the consumer, fan-out."""
