"""What the box and the hub both build on: settings, files, passwords, web security, the ingest library."""
