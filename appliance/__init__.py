"""The box: DigiFort's clinic appliance (`python -m appliance ...`).

The inbox watcher and OCR pool (`ingest/`), the clinic web UI (`web/`), the SQLite records
(`models.py`, `migrations.py`) and the command line (`cli.py`); its sync agent is
`appliance.sync`. It builds on `core` and never imports the hub (`cloud_hub`).
"""
