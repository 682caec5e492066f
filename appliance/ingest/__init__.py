"""The box's side of ingest: the inbox watcher, intake, the durable job loop and recording.

Reading pages and the filing rule are the pure library in `core.ingest`, shared with the hub.
"""
