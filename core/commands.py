"""The command runner behind `python -m appliance`, `python -m appliance.sync` and `python -m cloud_hub`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from .config import ConfigError


def run_command(
    args: argparse.Namespace,
    load_config: Callable[[], Any],
    config_errors: tuple[type[Exception], ...] = (ConfigError,),
) -> int:
    """Run the chosen subcommand with the configuration; a bad setting is exit 2 with the reason."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config()
    except config_errors as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(args, config))
    except config_errors as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
