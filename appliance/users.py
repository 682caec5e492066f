"""Box users: creation and argon2 password hashing."""

from __future__ import annotations

from core import passwords
from core.passwords import MIN_LENGTH

from . import audit
from .db import database
from .models import User


class UserError(ValueError):
    """A user cannot be created or changed as asked."""


def create_user(username: str, password: str, role: str = "staff", actor: str = "system") -> User:
    """Create a user with an argon2 hash of `password`."""
    if role not in User.ROLES:
        raise UserError(f"role must be one of {', '.join(User.ROLES)}")
    if len(password) < MIN_LENGTH:
        raise UserError(f"password must be at least {MIN_LENGTH} characters")
    if User.select().where(User.username == username).exists():
        raise UserError(f"user {username!r} already exists")
    with database.atomic():
        user = User.create(username=username, password_hash=passwords.hash_password(password), role=role)
        audit.record("user.create", actor=actor, obj=user, role=role)
    return user


def verify_password(user: User, password: str) -> bool:
    """True when `password` matches the user's stored hash."""
    return passwords.verify_password(user.password_hash, password)


def set_active(user: User, active: bool, actor: str) -> User:
    """Enable or disable a user; disabling ends all of their sessions at once."""
    from .sessions import end_user_sessions

    with database.atomic():
        User.update(active=active).where(User.id == user.id).execute()
        if not active:
            end_user_sessions(user, "user disabled")
        audit.record("user.enable" if active else "user.disable", actor=actor, obj=user)
    return User.get_by_id(user.id)


def reset_password(user: User, password: str, actor: str) -> User:
    """Give a user a new password and end their sessions."""
    from .sessions import end_user_sessions

    if len(password) < MIN_LENGTH:
        raise UserError(f"password must be at least {MIN_LENGTH} characters")
    with database.atomic():
        User.update(password_hash=passwords.hash_password(password)).where(User.id == user.id).execute()
        end_user_sessions(user, "password reset")
        audit.record("user.password_reset", actor=actor, obj=user)
    return User.get_by_id(user.id)


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer for every failure)."""
    user = User.get_or_none(User.username == username)
    if user is None:
        passwords.waste_time(password)
        return None
    if not verify_password(user, password) or not user.active:
        return None
    return user
