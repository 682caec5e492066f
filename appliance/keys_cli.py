"""The data key on the command line: `init`'s sealing step and `python -m appliance keys ...`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from core.files import write_durably

from . import conversion, data_key, key_sealing, rotation, unlock
from .box import open_box
from .config import Config
from .data_key import DataKey
from .key_sealing import ClevisError, WrongPassphrase


class KeyCommandError(Exception):
    """A key step that cannot go on; the message says what to do."""


def _passphrase_file(path: str, generate: bool) -> str:
    """The recovery passphrase IT keeps in `path` (e.g. written from the Ansible vault); with
    `generate`, a new one is written there (mode 0600) when the file does not exist."""
    file = Path(path)
    if generate and not file.exists():
        write_durably(file, (key_sealing.generate_passphrase() + "\n").encode(), mode=0o600)
    try:
        return file.read_text().strip()
    except FileNotFoundError:
        raise KeyCommandError(f"no passphrase file {path}") from None


def _typed_passphrase(terminal_only: bool) -> str | None:
    """The passphrase typed on the terminal (not echoed), or one line of stdin when piped."""
    if sys.stdin.isatty():
        return getpass.getpass("recovery passphrase: ")
    if terminal_only:
        return None
    return sys.stdin.readline().strip() or None


def describe(summary: dict) -> str:
    """One line saying what the data key is sealed to."""
    if not summary["encrypted"]:
        return "plain box: nothing is encrypted"
    pins = [f"Tang {url}" for url in summary.get("tang", [])] + (["TPM2"] if summary.get("tpm2") else [])
    what = ", ".join(pins) if pins else "no pin (the box stays locked after each restart until unlocked)"
    return f"data key sealed to: {what}; recovery passphrase: {'yes' if summary.get('passphrase') else 'no'}"


def _unlocked_key(config: Config, passphrase_file: str | None, terminal_only: bool) -> DataKey:
    key = unlock.try_unlock(config)
    if key is not None:
        return key
    passphrase = _passphrase_file(passphrase_file, False) if passphrase_file else _typed_passphrase(terminal_only)
    if passphrase is None:
        raise KeyCommandError(
            "the box is locked (no Tang server or TPM2 answered): give the recovery passphrase "
            "with --recovery-passphrase-file or on a terminal"
        )
    try:
        return unlock.unlock_with_passphrase(config, passphrase)
    except WrongPassphrase as error:
        raise KeyCommandError(str(error)) from None


def init_key(config: Config, passphrase_file: str | None) -> DataKey:
    """The data key for `init`: a new one sealed now on a new box, else this box's, unlocked."""
    if unlock.is_sealed(config):
        key = _unlocked_key(config, passphrase_file, terminal_only=True)
        print(f"box unlocked; {describe(unlock.sealing_summary(config))}")
        return key
    converting = unlock.plain_database_present(config)
    key = DataKey.generate()
    passphrase = _passphrase_file(passphrase_file, True) if passphrase_file else key_sealing.generate_passphrase()
    try:
        summary = unlock.seal(config, key, passphrase)
    except ValueError as error:
        raise KeyCommandError(str(error)) from None
    data_key.remember(config, key)
    if passphrase_file:
        print(f"data key made; recovery passphrase in {passphrase_file}")
    else:
        print(f"data key made; recovery passphrase: {passphrase}")
        print("shown once: IT keeps it (Ansible vault); it unlocks the box when no key server answers")
    print(describe(summary))
    if summary["problem"]:
        print(
            f"warning: not sealed to the key servers ({summary['problem']}); "
            "run `python -m appliance keys rebind` when they answer",
            file=sys.stderr,
        )
    if converting:
        conversion.start(config, key)
        print("the plain database is now encrypted; the worker seals the files written before in the background")
    return key


def _rotate(args, config: Config) -> int:
    key = _unlocked_key(config, args.recovery_passphrase_file, terminal_only=True)
    passphrase = (
        _passphrase_file(args.recovery_passphrase_file, False)
        if args.recovery_passphrase_file
        else _typed_passphrase(terminal_only=True)
    )
    if passphrase is None:
        raise KeyCommandError("rotating seals the new key under the recovery passphrase: give it")
    unlock.unlock_with_passphrase(config, passphrase)  # the right one, before anything changes

    def seal(new: DataKey) -> None:
        summary = unlock.seal(config, new, passphrase)
        if summary["problem"]:
            raise KeyCommandError(f"the new key could not be sealed to the key servers ({summary['problem']})")

    open_box(config, key)
    rotation.rotate(config, key, seal)
    print(f"data key rotated; {describe(unlock.sealing_summary(config))}")
    return 0


def _status(args, config: Config) -> int:
    summary = unlock.sealing_summary(config)
    print(describe(summary))
    if summary["encrypted"]:
        print("unlocked" if data_key.recall(config) else "locked (or not yet unlocked since boot)")
    return 0


def _unlock(args, config: Config) -> int:
    _unlocked_key(config, args.recovery_passphrase_file, terminal_only=False)
    print("box unlocked: its services go on within a few seconds")
    return 0


def _rebind(args, config: Config) -> int:
    key = _unlocked_key(config, args.recovery_passphrase_file, terminal_only=True)
    try:
        summary = unlock.rebind(config, key)
    except ClevisError as error:
        raise KeyCommandError(f"{error}; the previous sealing is kept") from None
    print(describe(summary))
    return 0


def run(handler):
    """A key command's handler, its KeyCommandError and a locked box turned into exit 4 with the reason."""

    def wrapped(args, config: Config) -> int:
        try:
            return handler(args, config)
        except (KeyCommandError, unlock.NotSealed) as error:
            print(f"error: {error}", file=sys.stderr)
            return 4

    return wrapped


def add_commands(commands) -> None:
    """The sealing commands under `keys` (beside any others the `keys` parser has)."""
    commands.add_parser("status", help="what the data key is sealed to; locked or not").set_defaults(
        handler=run(_status)
    )
    for name, handler, text in (
        ("unlock", _unlock, "unlock the box with the recovery passphrase (from a file, or stdin)"),
        ("rebind", _rebind, "seal the data key again to the Tang servers and TPM2 configured now"),
        ("rotate", _rotate, "re-encrypt the database and every file under a new data key (stop the worker first)"),
    ):
        command = commands.add_parser(name, help=text)
        add_passphrase_option(command)
        command.set_defaults(handler=run(handler))


def add_passphrase_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--recovery-passphrase-file",
        help="the recovery passphrase in this file (init: IT's own, or one generated into it, mode 0600, "
        "when it does not exist; nothing is printed)",
    )
