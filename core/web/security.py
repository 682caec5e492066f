"""Security both web apps share: response headers, the secret key, safe redirects, client address."""

from __future__ import annotations

import hmac
import os
import secrets
import unicodedata
import uuid
from pathlib import Path
from urllib.parse import quote

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def add_security_headers(response: Response) -> Response:
    """CSP without inline script, no sniffing or framing, no caching of pages with patient data."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


def secret_key_for(secret_key: str | None, data_dir: Path, name: str = "web-secret-key") -> str:
    """`secret_key`, or one generated once and kept (0600) in `data_dir` as `name`.

    Several web workers may start at once: the key is written under a unique name and linked
    into place, so exactly one of them creates it and every worker reads the same key.
    """
    if secret_key:
        return secret_key
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(partial, path)
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_text().strip()


def safe_next(target: str | None, fallback: str) -> str:
    """`target` when it is a path on this site, else `fallback` (no open redirect after sign-in).

    Browsers drop tabs and line breaks inside a URL and read a backslash as a slash, so
    `/\\t/evil.example` would leave the site: any control character, space or backslash refuses it.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    if any(ord(ch) < 0x21 or ch in "\\\x7f" for ch in target):
        return fallback
    return target


# RFC 5987 attr-char: what may stand unescaped in `filename*=UTF-8''...`.
ATTR_CHARS = "!#$&+-.^_`|~"


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A Content-Disposition value naming `filename` that can neither end the header nor add parameters.

    The name often comes from a scanner or a box: RFC 6266 with an RFC 5987 `filename*` for the
    real name, and an ASCII `filename` fallback without quotes, backslashes, semicolons, control
    characters (CR, LF) or percent signs (some browsers decode those).
    """
    name = "".join(ch for ch in filename if ch.isprintable()).replace("/", "_").strip() or "download"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = "".join("_" if ch in '"\\%;' else ch for ch in ascii_name).strip() or "download"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe=ATTR_CHARS)}"


def client_address() -> str:
    """The client's address (ProxyFix, when configured, has already applied the trusted hops)."""
    return request.remote_addr or "unknown"


def trust_proxies(app: Flask, hops: int) -> None:
    """Behind nginx: trust exactly `hops` proxies for the client's address and scheme (none when 0)."""
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def bearer_matches(expected: str | None) -> bool:
    """True when the request carries `Authorization: Bearer <expected>` (and a token is configured)."""
    given = request.headers.get("Authorization", "")
    return bool(expected) and hmac.compare_digest(given.encode(), f"Bearer {expected}".encode())
