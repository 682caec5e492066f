"""Shared fixtures: an isolated box (data dir, database) per test."""
from __future__ import annotations

import pytest

from appliance.box import open_box
from appliance.config import Config
from appliance.db import database


@pytest.fixture
def box_config(tmp_path) -> Config:
    """A box whose every folder lives under this test's tmp_path, two OCR processes."""
    return Config(data_dir=tmp_path / "data", inbox=tmp_path / "inbox", ocr_processes=2, stable_seconds=0.5,
                  empty_grace_seconds=3, rescan_seconds=1, page_timeout_seconds=120)


@pytest.fixture
def box(box_config):
    """The box opened (folders made, database migrated) and closed after the test."""
    open_box(box_config)
    yield box_config
    database.close()


@pytest.fixture
def runner(box):
    """A job runner with a real OCR pool, closed after the test."""
    from appliance.ingest.runner import JobRunner

    job_runner = JobRunner(box)
    yield job_runner
    job_runner.close()
