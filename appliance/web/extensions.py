"""Flask extensions, created once and bound to the app in `create_app`."""

from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from core.web.security import client_address

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.session_protection = None
csrf = CSRFProtect()
limiter = Limiter(key_func=client_address, default_limits=[])
# The unlock page's own limiter: the app's limiter keeps its counters in the box's database,
# which is encrypted and closed while the page is needed. Counters per web process, in memory.
unlock_limiter = Limiter(key_func=client_address, default_limits=[], storage_uri="memory://")
