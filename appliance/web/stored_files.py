"""Answering with a file the box keeps (a page image, a thumbnail, an original): decrypted in
memory on an encrypted box, never through a plain copy on disk."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Request, Response, send_file

from .. import at_rest


def send_stored(path: Path, mimetype: str, **options) -> Response:
    """`send_file` for a file of the box's data folder, opened with the box's sealing."""
    return send_file(io.BytesIO(at_rest.sealing().read(path)), mimetype=mimetype, **options)


class MemoryUploadsRequest(Request):
    """Uploaded files are held in memory: Werkzeug would spool a large one to a plain temporary
    file in the system's temp folder, a copy of a scan outside the box's encryption."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()
