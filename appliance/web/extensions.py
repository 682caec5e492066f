"""Flask extensions, created once and bound to the app in `create_app`."""
from flask import request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf import CSRFProtect


def client_address() -> str:
    """The client's address (the app trusts no proxy headers unless deployed behind one)."""
    return request.remote_addr or "unknown"


login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.session_protection = None
csrf = CSRFProtect()
limiter = Limiter(key_func=client_address, default_limits=[])
