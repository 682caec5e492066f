"""Typed readers for settings taken from the environment (the box's and the hub's config use them)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


class ConfigError(ValueError):
    """A setting has a value the box or hub cannot use."""


def read_int(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number from `env[name]`, or `default` when unset or empty."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def read_float(env: Mapping[str, str], name: str, default: float) -> float:
    """A number from `env[name]`, or `default` when unset or empty."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def read_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """true/false (yes/no, on/off, 1/0) from `env[name]`, or `default` when unset or empty."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def absolute(path: Path) -> Path:
    """`path` made absolute against the working directory at start-up.

    Every configured folder is resolved once, when the settings are read: Flask and the pool
    processes would otherwise resolve a relative folder against their own idea of "here".
    """
    return path if path.is_absolute() else (Path.cwd() / path).absolute()
