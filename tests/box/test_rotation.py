"""`keys rotate`: a new data key for the database and every file while the web UI keeps
answering searches; the old key opens nothing afterwards."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlcipher3

from appliance import at_rest, data_key, rotation
from appliance.box import open_box
from appliance.config import Config
from appliance.data_key import DataKey
from appliance.db import database
from appliance.ingest.intake import store_path
from appliance.models import Scan
from core.sealed_files import SealBroken, Sealing
from tests.conftest import sign_in
from tests.factories import make_document


def encrypted_box(tmp_path: Path, documents: int) -> tuple[Config, DataKey]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    config = Config(data_dir=tmp_path / "data", inbox=tmp_path / "inbox", runtime_dir=runtime, encryption=True)
    key = DataKey.generate()
    data_key.remember(config, key)
    open_box(config)
    for n in range(documents):
        document = make_document(config, texts=(f"Haemoglobin normal, reading {n}",))
        path = store_path(config, document.scan.sha256)
        at_rest.sealing().write(path, path.read_bytes())  # the factory writes plain: seal it as intake would
    return config, key


def test_rotation_rekeys_the_database_and_reseals_every_file_while_search_keeps_answering(tmp_path):
    config, old = encrypted_box(tmp_path, 40)
    originals = {scan.sha256: at_rest.sealing().read(store_path(config, scan.sha256)) for scan in Scan.select()}
    from appliance.users import create_user
    from appliance.web import create_app

    create_user("alice", "alice-password-1", role="admin")
    app = create_app(config.with_overrides(idle_minutes=30))
    app.config["TESTING"] = True
    client = app.test_client()
    sign_in(client, "alice")
    answers: list[tuple[int, bool]] = []
    stop = threading.Event()

    def search_all_along():
        while not stop.is_set():
            page = client.get("/search?q=Haemoglobin")
            answers.append((page.status_code, "reading 7" in page.get_data(as_text=True)))

    searcher = threading.Thread(target=search_all_along)
    database.close()
    searcher.start()
    try:
        open_box(config, old)
        new = rotation.rotate(config, old, seal=lambda key: None)
    finally:
        stop.set()
        searcher.join(30)
    database.close()
    assert len(answers) > 3
    assert all(status == 200 for status, _ in answers), answers
    assert sum(found for _, found in answers) == len(answers)
    assert new.database != old.database and new.files[0] not in old.files and len(new.files) == 1
    assert data_key.recall(config) == new
    open_box(config)
    try:
        for sha256, data in originals.items():
            path = store_path(config, sha256)
            assert at_rest.sealing().read(path) == data
            with pytest.raises(SealBroken):
                Sealing(old.recipient, old.files).read(path)
    finally:
        database.close()
    stale = sqlcipher3.connect(str(config.database_path))
    stale.execute(f'PRAGMA key = "{old.sqlcipher_key}"')
    with pytest.raises(sqlcipher3.DatabaseError):
        stale.execute("SELECT count(*) FROM document").fetchone()
    stale.close()


def test_a_rotation_cut_short_is_carried_on_by_running_it_again(tmp_path):
    config, old = encrypted_box(tmp_path, 5)
    sealed_keys: list[DataKey] = []
    middle = rotation.transition_key(old)  # what a rotation killed after step 1 left sealed
    data_key.remember(config, middle)
    database.close()
    open_box(config)  # the box still opens: the database answers to the previous key
    try:
        assert Scan.select().count() == 5
        done = rotation.rotate(config, middle, seal=sealed_keys.append)
    finally:
        database.close()
    assert sealed_keys[0] == middle and sealed_keys[1] == done
    assert done.database == middle.database
    open_box(config)
    try:
        for scan in Scan.select():
            at_rest.sealing().read(store_path(config, scan.sha256))
    finally:
        database.close()
