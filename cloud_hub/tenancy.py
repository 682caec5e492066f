"""Organisations, their clinics and their users."""

from __future__ import annotations

import uuid

from core.passwords import hash_password, password_problem, verify_password

from . import audit
from .db import database
from .models import ROLES, Clinic, HubSession, Organisation, User, UserClinic, utcnow


class TenancyError(ValueError):
    """An organisation, clinic or user cannot be created as asked."""


def check_password(password: str, email: str) -> None:
    """TenancyError when the password policy (core.passwords) refuses `password` for `email`."""
    problem = password_problem(password, [email])
    if problem:
        raise TenancyError(problem)


class NotAllowed(TenancyError):
    """The acting user does not hold the clinics or the role they try to grant or touch."""


# The same words whether the address is taken in this organisation or another: an admin must
# not learn which addresses other organisations use.
EMAIL_REFUSED = "that e-mail cannot be used"
# What each role may hand out: an org_admin holds every role's powers, the others only their own.
GRANTABLE = {"org_admin": frozenset(ROLES), **{role: frozenset({role}) for role in ROLES if role != "org_admin"}}


def end_sessions(user: User, reason: str, keep_session_id: str | None = None) -> int:
    """End every live session of `user` but `keep_session_id`; how many there were."""
    query = HubSession.update(ended_at=utcnow(), end_reason=reason).where(
        (HubSession.user == user) & HubSession.ended_at.is_null()
    )
    if keep_session_id is not None:
        query = query.where(HubSession.id != keep_session_id)
    return query.execute()


def _check_authority(by: User | None, target_clinics: frozenset[int] | None, role: str, action: str) -> None:
    if by is not None and not may_manage(by, target_clinics, role):
        audit.record(f"{action}.refused", actor=by.email, organisation=by.organisation_id, role=role)
        raise NotAllowed("you can only grant or change clinics and roles you hold yourself")


def set_active(user: User, active: bool, actor: str, by: User | None = None) -> User:
    """Enable or disable a user (by `by`, when a user asks); disabling ends their sessions at once."""
    _check_authority(by, clinic_ids_of(user), user.role, "user.enable" if active else "user.disable")
    with database.atomic():
        User.update(active=active).where(User.id == user.id).execute()
        if not active:
            end_sessions(user, "disabled")
        audit.record(
            "user.enable" if active else "user.disable", actor=actor, organisation=user.organisation_id, obj=user
        )
    return User.get_by_id(user.id)


def set_password(user: User, password: str, actor: str, by: User | None = None) -> User:
    """Give a user a new password (by `by`, when a user asks); their sessions end (they sign in again with it)."""
    _check_authority(by, clinic_ids_of(user), user.role, "user.password")
    check_password(password, user.email)
    with database.atomic():
        User.update(password_hash=hash_password(password), password_changed_at=utcnow()).where(
            User.id == user.id
        ).execute()
        end_sessions(user, "password changed")
        audit.record("user.password", actor=actor, organisation=user.organisation_id, obj=user)
    return User.get_by_id(user.id)


def change_own_password(user: User, current: str, new: str, keep_session_id: str) -> User:
    """A user's own change of password: the current one must be right; their other sessions end."""
    if not verify_password(User.get_by_id(user.id).password_hash, current):
        raise TenancyError("the current password is not right")
    check_password(new, user.email)
    with database.atomic():
        User.update(password_hash=hash_password(new), password_changed_at=utcnow()).where(User.id == user.id).execute()
        end_sessions(user, "password changed", keep_session_id)
        audit.record("user.password_change", actor=user.email, organisation=user.organisation_id, obj=user)
    return User.get_by_id(user.id)


def create_organisation(name: str, actor: str = "cli") -> Organisation:
    """A new organisation with its own storage prefix."""
    name = name.strip()
    if not name:
        raise TenancyError("the organisation needs a name")
    if Organisation.select().where(Organisation.name == name).exists():
        raise TenancyError(f"organisation {name!r} already exists")
    with database.atomic():
        organisation = Organisation.create(uid=uuid.uuid4().hex, name=name)
        audit.record("organisation.create", actor=actor, organisation=organisation, obj=organisation)
    return organisation


def create_clinic(organisation: Organisation, name: str, actor: str = "cli") -> Clinic:
    """A clinic of `organisation`."""
    name = name.strip()
    if not name:
        raise TenancyError("the clinic needs a name")
    if Clinic.select().where((Clinic.organisation == organisation) & (Clinic.name == name)).exists():
        raise TenancyError(f"clinic {name!r} already exists in {organisation.name}")
    with database.atomic():
        clinic = Clinic.create(organisation=organisation, name=name)
        audit.record("clinic.create", actor=actor, organisation=organisation, obj=clinic)
    return clinic


def create_user(
    organisation: Organisation,
    email: str,
    password: str,
    role: str,
    clinics: list[Clinic] = (),
    actor: str = "cli",
    by: User | None = None,
) -> User:
    """A user of `organisation`, limited to `clinics` when any are given (by `by`, when a user asks)."""
    email = email.strip().lower()
    if role not in ROLES:
        raise TenancyError(f"role must be one of {', '.join(ROLES)}")
    _check_authority(by, frozenset(clinic.id for clinic in clinics) or None, role, "user.create")
    if "@" not in email:
        raise TenancyError("the user name must be an e-mail address")
    check_password(password, email)
    if User.select().where(User.email == email).exists():
        raise TenancyError(EMAIL_REFUSED)
    if any(clinic.organisation_id != organisation.id for clinic in clinics):
        raise TenancyError("a user can only be limited to clinics of their own organisation")
    with database.atomic():
        user = User.create(organisation=organisation, email=email, password_hash=hash_password(password), role=role)
        for clinic in clinics:
            UserClinic.create(user=user, clinic=clinic)
        audit.record("user.create", actor=actor, organisation=organisation, obj=user, role=role)
    return user


def organisation_named(name: str) -> Organisation:
    """The organisation called `name`, or TenancyError."""
    organisation = Organisation.get_or_none(Organisation.name == name)
    if organisation is None:
        raise TenancyError(f"no organisation named {name!r}")
    return organisation


def clinic_named(organisation: Organisation, name: str) -> Clinic:
    """The clinic of `organisation` called `name`, or TenancyError."""
    clinic = Clinic.get_or_none((Clinic.organisation == organisation) & (Clinic.name == name))
    if clinic is None:
        raise TenancyError(f"no clinic named {name!r} in {organisation.name}")
    return clinic


def clinic_ids_of(user: User) -> frozenset[int] | None:
    """The clinics `user` is limited to, or None when they are not limited (every clinic of their organisation)."""
    given = frozenset(link.clinic_id for link in UserClinic.select(UserClinic.clinic).where(UserClinic.user == user))
    return given or None


def may_manage(actor: User, target_clinics: frozenset[int] | None, role: str | None = None) -> bool:
    """True when `actor` holds everything a user with `target_clinics` (None: every clinic) and `role` holds.

    A user may only create, or set the password of, disable or change, someone who reaches no
    clinic and no role beyond their own: else a clinic-limited admin could make themselves an
    unrestricted one.
    """
    if role is not None and role not in GRANTABLE.get(actor.role, frozenset()):
        return False
    held = clinic_ids_of(actor)
    if held is None:
        return True
    return target_clinics is not None and target_clinics <= held
