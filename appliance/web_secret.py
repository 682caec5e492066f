"""The web UI's secret key (it signs sessions and CSRF tokens): APPLIANCE_SECRET_KEY when set,
else one generated once and kept in the data folder, sealed like every other file of the box."""

from __future__ import annotations

import io
import os
import secrets
import uuid

from . import at_rest
from .config import Config

SECRET_FILE = "web-secret-key"  # noqa: S105  (a file name, not a secret)


def web_secret(config: Config) -> str:
    """The secret every web worker of this box signs with.

    Several workers may start at once: each seals a candidate under its own name and links it
    into place, so exactly one of them creates the key and every worker reads that one.
    """
    if config.secret_key:
        return config.secret_key
    sealing = at_rest.sealing()
    path = config.data_dir / SECRET_FILE
    if not path.exists():
        config.data_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
        sealing.write_partial(io.BytesIO(secrets.token_hex(32).encode()).read, partial)
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return sealing.read(path).decode().strip()
