"""What the box and the hub both build on: settings, files, passwords, clock, the command and
migration runners, web security and the gunicorn server, and the ingest library with the one
filing rule."""
