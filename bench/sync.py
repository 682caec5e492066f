"""Sync benchmark: documents and their originals moved from a box to the hub, against a plain
HTTP PUT of the same bytes to the same hub process, and the bytes re-sent after a cut link.

The hub runs under gunicorn on PostgreSQL, Redis and S3 (the throwaway servers of
tests/servers.py, or DATABASE_URL, REDIS_URL and S3_ENDPOINT_URL), with two extra routes that
only this bench adds: PUT /bench/store streams the body into the hub's blob storage (the
baseline: a plain upload the hub keeps), PUT /bench/sink writes it to a temporary file (the
floor: HTTP into the same process, nothing else). The box is a fresh data directory; each
round records K documents whose originals are random bytes (no OCR: this measures sync).

    .venv/bin/python -m tests.servers -- .venv/bin/python bench/sync.py [--documents 40] [--mb 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from appliance.box import open_box
from appliance.config import Config
from appliance.db import database as box_database
from appliance.ingest.intake import store_path
from appliance.models import Document
from appliance.sync.agent import cycle
from appliance.sync.enrolment import enrol_box
from appliance.sync.push import backlog
from cloud_hub.blobs import MAX_BLOB_BYTES
from cloud_hub.config import HubConfig
from cloud_hub.db import database as hub_database
from cloud_hub.devices import issue_enrolment_token
from cloud_hub.hub import open_hub
from cloud_hub.tenancy import create_clinic, create_organisation
from core.waiting import wait_for_http
from tests.factories import quick_documents
from tests.faultproxy import FaultProxy
from tests.servers import free_port

MB = 1024 * 1024


def bench_app():
    """The hub's app plus PUT /bench/store and /bench/sink (gunicorn's factory in the served process)."""
    from flask import request

    from cloud_hub import create_app
    from cloud_hub.web.access import PUBLIC_ENDPOINTS

    app = create_app(HubConfig.from_env())

    @app.put("/bench/store")
    def store():
        request.max_content_length = MAX_BLOB_BYTES
        app.extensions["digifort_hub"].storage.put_stream(f"bench/{uuid.uuid4().hex}", request.stream)
        return "", 204

    @app.put("/bench/sink")
    def sink():
        request.max_content_length = MAX_BLOB_BYTES
        with tempfile.NamedTemporaryFile(dir=os.environ["HUB_DATA_DIR"]) as out:
            while block := request.stream.read(MB):
                out.write(block)
            out.flush()
        return "", 204

    for view in (store, sink):
        PUBLIC_ENDPOINTS.add(view.__name__)
        app.extensions["csrf"].exempt(view)
    return app


@dataclass
class Figures:
    machine: str
    documents: int
    rounds: int
    mb_per_document: float
    chunk_mb: float
    parallel: int
    sync_seconds: float
    sync_documents_per_second: float
    sync_mb_per_second: float
    put_seconds: float
    put_mb_per_second: float
    ratio: float
    sink_seconds: float
    sink_mb_per_second: float
    ratio_to_sink: float
    cut_blob_bytes: int
    cut_chunk_mb: float
    cut_bytes_sent: int
    cut_bytes_resent: int


def originals(config: Config) -> list[Path]:
    return [store_path(config, d.scan.sha256) for d in Document.select().order_by(Document.id)]


def measure(args) -> Figures:
    server_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    endpoint = os.environ.get("S3_ENDPOINT_URL")
    if not (server_url and redis_url and endpoint):
        raise SystemExit(
            "needs DATABASE_URL, REDIS_URL and S3_ENDPOINT_URL; run it as: "
            ".venv/bin/python -m tests.servers -- .venv/bin/python bench/sync.py"
        )
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    name = f"digifort_sync_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunparse(urlparse(server_url)._replace(path=f"/{name}"))
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="digifort-sync-bench-") as tmp:
            hub_env = dict(
                os.environ,
                DATABASE_URL=url,
                S3_BUCKET=f"bench-{uuid.uuid4().hex[:10]}",
                S3_REGION="us-east-1",
                HUB_DATA_DIR=f"{tmp}/hub",
                HUB_WEB_WORKERS="2",
            )
            hub_config = HubConfig.from_env(hub_env)
            open_hub(hub_config)
            from cloud_hub.hub import prepare_storage

            prepare_storage(hub_config)
            clinic = create_clinic(create_organisation("Bench Health", actor="bench"), "Bench Clinic", actor="bench")
            tokens = [issue_enrolment_token(clinic, "bench", 1)[0] for _ in range(2)]
            hub_database.close()
            port = free_port()
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from appliance.web.server import AppServer; from bench.sync import bench_app; "
                    f"AppServer(bench_app, '127.0.0.1:{port}', 2).run()",
                ],
                cwd=ROOT,
                env=hub_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/healthz", 60)

            size = int(args.mb * MB)
            box = Config(
                data_dir=Path(tmp) / "box",
                sync_chunk_bytes=int(args.chunk_mb * MB),
                sync_batch_items=50,
                sync_parallel_uploads=args.parallel,
            )
            open_box(box)
            enrol_box(box, base, tokens[0], "bench box")
            session = requests.Session()
            seconds = {"sync": 0.0, "store": 0.0, "sink": 0.0}
            for round_ in range(args.rounds):
                quick_documents(box, args.documents, first=round_ * args.documents, size=size)
                start = time.perf_counter()
                while backlog():
                    cycle(box)
                seconds["sync"] += time.perf_counter() - start
                paths = originals(box)[-args.documents :]
                for route in ("store", "sink"):
                    start = time.perf_counter()
                    for path in paths:
                        with open(path, "rb") as handle:
                            session.put(f"{base}/bench/{route}", data=handle, timeout=120).raise_for_status()
                    seconds[route] += time.perf_counter() - start
            box_database.close()

            cut_size = int(args.cut_mb * MB)
            cut_box = Config(
                data_dir=Path(tmp) / "cut-box",
                sync_chunk_bytes=int(args.cut_chunk_mb * MB),
                sync_batch_items=50,
                sync_timeout_seconds=10,
            )
            open_box(cut_box)
            proxy = FaultProxy(port, cut_after=int(cut_size * 0.9))
            enrol_box(cut_box, proxy.url, tokens[1], "cut link box")
            quick_documents(cut_box, 1, size=cut_size)
            proxy.set("cut")
            try:
                cycle(cut_box)
            except Exception:
                pass
            proxy.set("pass")
            while backlog():
                cycle(cut_box)
            sent = proxy.bytes_up
            proxy.close()
            box_database.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    documents = args.documents * args.rounds
    total_mb = documents * size / MB
    sync_seconds, put_seconds, sink_seconds = seconds["sync"], seconds["store"], seconds["sink"]
    return Figures(
        machine=f"{os.cpu_count()}-core {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
        documents=documents,
        rounds=args.rounds,
        mb_per_document=args.mb,
        chunk_mb=args.chunk_mb,
        parallel=args.parallel,
        sync_seconds=round(sync_seconds, 2),
        sync_documents_per_second=round(documents / sync_seconds, 2),
        sync_mb_per_second=round(total_mb / sync_seconds, 2),
        put_seconds=round(put_seconds, 2),
        put_mb_per_second=round(total_mb / put_seconds, 2),
        ratio=round(put_seconds / sync_seconds, 3),
        sink_seconds=round(sink_seconds, 2),
        sink_mb_per_second=round(total_mb / sink_seconds, 2),
        ratio_to_sink=round(sink_seconds / sync_seconds, 3),
        cut_blob_bytes=cut_size,
        cut_chunk_mb=args.cut_chunk_mb,
        cut_bytes_sent=sent,
        cut_bytes_resent=max(0, sent - cut_size),
    )


def report(f: Figures) -> str:
    return "\n".join(
        [
            f"Sync: {f.documents} documents x {f.mb_per_document:g} MB originals in {f.rounds} rounds, "
            f"chunks of {f.chunk_mb:g} MB, {f.parallel} uploads at a time",
            f"machine: {f.machine}",
            f"{'':42}{'seconds':>9}{'MB/s':>8}{'docs/s':>8}",
            f"{'sync (box -> hub, all steps)':42}{f.sync_seconds:>9.2f}{f.sync_mb_per_second:>8.2f}"
            f"{f.sync_documents_per_second:>8.2f}",
            f"{'baseline: plain PUT, hub stores the bytes':42}{f.put_seconds:>9.2f}{f.put_mb_per_second:>8.2f}",
            f"{'floor: plain PUT into a temporary file':42}{f.sink_seconds:>9.2f}{f.sink_mb_per_second:>8.2f}",
            f"{'ratio sync/baseline (blob bytes)':42}{f.ratio:>9.2f}   target >= 0.9",
            f"{'ratio sync/floor':42}{f.ratio_to_sink:>9.2f}",
            f"cut link at 90% of a {f.cut_blob_bytes / MB:g} MB original ({f.cut_chunk_mb:g} MB chunks): "
            f"{f.cut_bytes_sent:,} bytes sent in all, {f.cut_bytes_resent:,} more than the original "
            f"({100 * f.cut_bytes_resent / f.cut_blob_bytes:.1f}%; request headers and batches included)",
        ]
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Box-to-hub sync against a plain HTTP PUT of the same bytes.")
    parser.add_argument("--documents", type=int, default=40, help="documents to move per round (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each syncing new documents (default 3)")
    parser.add_argument("--mb", type=float, default=1.0, help="size of each original in MB (default 1)")
    defaults = Config()
    parser.add_argument(
        "--chunk-mb",
        type=float,
        default=defaults.sync_chunk_bytes / MB,
        help="upload chunk size in MB (default: the box's, %(default)g)",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=defaults.sync_parallel_uploads,
        help="uploads at a time (default: the box's, %(default)s)",
    )
    parser.add_argument("--cut-mb", type=float, default=16.0, help="original cut at 90%% (default 16 MB)")
    parser.add_argument("--cut-chunk-mb", type=float, default=1.0, help="chunk size for the cut test (default 1)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args)
    print(report(figures))
    if args.json:
        print(json.dumps(asdict(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
