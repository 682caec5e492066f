"""Flask extensions of the hub, created once and bound in `create_app`."""

from flask_limiter import Limiter
from flask_wtf import CSRFProtect

from core.web.security import client_address

csrf = CSRFProtect()
limiter = Limiter(key_func=client_address, default_limits=[])
