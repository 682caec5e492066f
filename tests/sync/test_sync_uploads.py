"""How the agent groups originals into upload requests: small ones in packs, large or
half-sent ones alone."""

from appliance.models import Scan
from appliance.sync.push import plan_uploads
from sync import protocol
from tests.factories import quick_documents


def sizes(units):
    return [[scan.size for scan in unit] for unit in units]


def test_small_originals_share_packs_of_at_most_a_chunk_and_large_ones_go_alone(box):
    config = box.with_overrides(sync_chunk_bytes=100_000)
    for n, size in enumerate([30_000, 30_000, 30_000, 30_000, 250_000, 100_000, 5_000]):
        quick_documents(box, 1, first=n, size=size)
    scans = list(Scan.select().order_by(Scan.id))
    assert sizes(plan_uploads(config, scans, {})) == [[30_000, 30_000, 30_000], [250_000], [30_000], [100_000], [5_000]]


def test_an_upload_the_hub_holds_part_of_resumes_alone(box):
    config = box.with_overrides(sync_chunk_bytes=100_000)
    quick_documents(box, 3, size=10_000)
    scans = list(Scan.select().order_by(Scan.id))
    units = plan_uploads(config, scans, {scans[1].sha256: 4_096})
    assert [[scan.sha256 for scan in unit] for unit in units] == [[scans[1].sha256], [scans[0].sha256, scans[2].sha256]]


def test_a_pack_holds_no_more_blobs_than_the_hub_takes(box):
    config = box.with_overrides(sync_chunk_bytes=1_000_000)
    quick_documents(box, protocol.MAX_PACK_BLOBS + 5, size=100)
    units = plan_uploads(config, list(Scan.select()), {})
    assert [len(unit) for unit in units] == [protocol.MAX_PACK_BLOBS, 5]
