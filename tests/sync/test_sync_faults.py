"""Sync through a faulty link and a killed agent: afterwards every document is at the hub exactly
once, with its original, and the box's sync state is consistent."""

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import peewee as pw

from appliance.db import database as box_database
from appliance.models import Document, Outbox, SyncBatch
from appliance.sync.agent import run_once
from appliance.sync.client import HubError
from appliance.sync.push import backlog
from cloud_hub.db import database as hub_database
from cloud_hub.devices import issue_enrolment_token
from cloud_hub.models import Blob, UsageDaily
from cloud_hub.models import Document as HubDocument
from cloud_hub.models import Page as HubPage
from tests.factories import quick_documents
from tests.faultproxy import FaultProxy
from tests.sync.test_sync_agent import sync_cli

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ("refuse", "error503", "blackhole", "cut", "lose_commit", "lose_upload", "slow")


def attempt(config, max_batches=1) -> bool:
    try:
        return run_once(config, max_batches)
    except HubError:
        return False


def test_nothing_is_lost_or_doubled_through_faults_and_kills(box, served_hub, hub_config, tenants, tmp_path):
    hub_port = int(served_hub.rsplit(":", 1)[1])
    proxy = FaultProxy(hub_port, cut_after=40_000, slow_bytes_per_second=1_000_000)
    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert sync_cli(box, "enrol", "--hub", proxy.url, "--token", token).returncode == 0
    quick_documents(box, 150, size=12_000)  # several to a pack
    quick_documents(box, 50, first=150)  # one to a request
    config = box.with_overrides(sync_batch_items=5, sync_chunk_bytes=64 * 1024, sync_timeout_seconds=2)
    tried = 0
    for _ in range(6):
        for mode in FAULTS:
            proxy.set(mode)
            attempt(config)
            tried += 1
            proxy.set("pass")
            attempt(config)

    quick_documents(box, 20, first=200, size=150_000)  # in chunks
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(box.data_dir),
        APPLIANCE_INBOX=str(box.inbox),
        APPLIANCE_SYNC_INTERVAL_SECONDS="300",
        APPLIANCE_SYNC_MAX_BACKOFF_SECONDS="300",
    )
    proxy.set("refuse")
    agent = subprocess.Popen(
        [sys.executable, "-m", "appliance.sync", "agent"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(12)
    assert backlog() > 0
    proxy.set("pass")
    back = time.monotonic()
    while backlog() and time.monotonic() - back < 60:
        time.sleep(0.5)
    assert backlog() == 0, "the agent did not resume when the hub came back (it must not wait for its backoff)"
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=30) == 0

    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(box.data_dir),
        APPLIANCE_INBOX=str(box.inbox),
        APPLIANCE_SYNC_INTERVAL_SECONDS="0.5",
        APPLIANCE_SYNC_BATCH_ITEMS="10",
        APPLIANCE_SYNC_CHUNK_BYTES=str(64 * 1024),
    )
    # Scans keep arriving over a slow link, so every kill lands while there is work in flight.
    proxy.rate = 100_000
    proxy.set("slow")
    rng, kills, mid_sync = random.Random(7), 0, 0
    for round_ in range(16):
        quick_documents(box, 5, first=220 + 5 * round_, size=100_000)  # ~5 s of sending
        agent = subprocess.Popen(
            [sys.executable, "-m", "appliance.sync", "agent"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.8, 2.5))
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        kills += 1
        mid_sync += backlog() > 0  # killed with work left: not after the sync had finished
    proxy.set("pass")
    for _ in range(20):
        if attempt(config, max_batches=None):
            break
    print(
        f"\nfault points tried: {tried} faulted cycles ({proxy.faults} faulty connections, {proxy.cuts} cut "
        f"mid-request, {proxy.answers_lost} answers lost after the hub did the work, {proxy.commits_lost} of them "
        f"batch commits), {kills} SIGKILLs of the agent ({mid_sync} with work left)"
    )
    assert proxy.cuts > 0 and proxy.commits_lost > 0 and proxy.answers_lost > proxy.commits_lost
    assert proxy.faults >= tried and mid_sync >= kills // 2
    proxy.close()

    box_uids = {d.uid for d in Document.select()}
    assert Outbox.select().where(Outbox.synced_at.is_null()).count() == 0
    assert SyncBatch.select().where(SyncBatch.committed_at.is_null()).count() == 0
    with hub_database.connection_context():
        hub_uids = [d.uid for d in HubDocument.select(HubDocument.uid)]
        assert sorted(hub_uids) == sorted(box_uids) and len(hub_uids) == 300
        assert HubPage.select().count() == 300
        assert UsageDaily.select(pw.fn.SUM(UsageDaily.documents)).scalar() == 300
        blobs = {b.sha256: b for b in Blob.select()}
    shas = {d.scan.sha256 for d in Document.select()}
    assert set(blobs) == shas
    s3 = boto3.client("s3", endpoint_url=hub_config.s3_endpoint_url, region_name=hub_config.s3_region)
    for sha in random.Random(1).sample(sorted(shas), 30):
        body = s3.get_object(Bucket=hub_config.s3_bucket, Key=blobs[sha].storage_key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha
    box_database.close()


def test_a_link_cut_at_90_percent_of_a_large_original_resumes_near_90_percent(box, served_hub, tenants):
    size, chunk = 1_000_000, 64 * 1024
    hub_port = int(served_hub.rsplit(":", 1)[1])
    proxy = FaultProxy(hub_port, cut_after=int(size * 0.9))
    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert sync_cli(box, "enrol", "--hub", proxy.url, "--token", token).returncode == 0
    quick_documents(box, 1, size=size)
    config = box.with_overrides(sync_chunk_bytes=chunk, sync_timeout_seconds=5)
    before = proxy.bytes_up
    proxy.set("cut")
    assert not attempt(config) and proxy.cuts == 1
    proxy.set("pass")
    assert attempt(config)
    sent = proxy.bytes_up - before
    proxy.close()
    # Everything again from the start would be ~1.9 MB; resuming costs at most the chunk in
    # flight plus the requests' headers and the batch.
    assert size < sent < size + chunk + 40_000, sent
    with hub_database.connection_context():
        assert HubDocument.select().count() == 1 and Blob.select().count() == 1
    box_database.close()
