"""The box's sync agent: pushes the outbox to the hub in signed batches and pulls head office's changes."""
