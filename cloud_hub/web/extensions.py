"""Flask extensions of the hub, created once and bound in `create_app`."""
from flask import request
from flask_limiter import Limiter
from flask_wtf import CSRFProtect


def client_address() -> str:
    """The client's address (ProxyFix, when configured, has already applied the one trusted hop)."""
    return request.remote_addr or "unknown"


csrf = CSRFProtect()
limiter = Limiter(key_func=client_address, default_limits=[])
