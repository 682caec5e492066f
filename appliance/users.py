"""Box users: creation, the password policy (core.passwords) and argon2 password hashing."""

from __future__ import annotations

from core import passwords

from . import audit
from .db import database
from .models import User


class UserError(ValueError):
    """A user cannot be created or changed as asked."""


def create_user(username: str, password: str, role: str = "staff", actor: str = "system") -> User:
    """Create a user with an argon2 hash of `password`."""
    if role not in User.ROLES:
        raise UserError(f"role must be one of {', '.join(User.ROLES)}")
    _check_password(password, username)
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

    _check_password(password, user.username)
    with database.atomic():
        User.update(password_hash=passwords.hash_password(password)).where(User.id == user.id).execute()
        end_user_sessions(user, "password reset")
        audit.record("user.password_reset", actor=actor, obj=user)
    return User.get_by_id(user.id)


def change_own_password(user: User, current: str, new: str, keep_session_id: int | None = None) -> User:
    """A user's own change of password: the current one must be right; their other sessions end."""
    from .sessions import end_user_sessions

    if not verify_password(User.get_by_id(user.id), current):
        raise UserError("the current password is not right")
    _check_password(new, user.username)
    with database.atomic():
        User.update(password_hash=passwords.hash_password(new)).where(User.id == user.id).execute()
        end_user_sessions(user, "password changed", keep_session_id)
        audit.record("user.password_change", actor=user.username, obj=user)
    return User.get_by_id(user.id)


def _check_password(password: str, username: str) -> None:
    problem = passwords.password_problem(password, [username])
    if problem:
        raise UserError(problem)


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same answer for every failure)."""
    user = User.get_or_none(User.username == username)
    if user is None:
        passwords.waste_time(password)
        return None
    if not verify_password(user, password) or not user.active:
        return None
    return user
