"""Ingest benchmark: the box's OCR pipeline against `tesseract` run directly over the same pages.

Both sides read the same N generated A4 300 dpi PNG pages with the same number of parallel
processes, alternately in this process (baseline, pipeline; --rounds repeats the pair). The
figure that matters is the ratio pipeline/baseline (DESIGN.md, "Performance"); memory is
reported for the worker process itself and for the OCR pool's processes. Each side's own CPU
time is measured too, and the share of the machine other programs used meanwhile, because on a
busy machine the ratio is noise.

With --encrypted the pipeline runs on an encrypted box (SQLCipher database, originals and
thumbnails sealed as age streams); the baseline stays the tesseract CLI. With --both each round
runs the pipeline on a plain box and on an encrypted one, in alternating order, and the cost of
encryption is printed directly as the ratio encrypted/plain.

    .venv/bin/python bench/ingest.py [--pages N] [--processes P] [--rounds R] [--encrypted | --both] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from appliance import at_rest, data_key
from appliance.box import open_box
from appliance.config import Config
from appliance.data_key import DataKey
from appliance.db import database
from appliance.ingest.intake import accept_file
from appliance.ingest.runner import JobRunner
from appliance.models import Scan
from core.sealed_files import is_sealed_file

TARGET_RATIO = 0.9
OTHER_LOAD_WARNING = 0.1
WORKER_RSS_TARGET_MB = 150
SAMPLE_SECONDS = 0.2
NOISE = 0.0003
NAMES = ("SMITH, John", "JONES, Mary", "NGUYEN, Anh", "GARCIA, Lucia", "O'BRIEN, Sean", "MÜLLER, Anna")
TITLES = ("LABORATORY REPORT", "DISCHARGE SUMMARY", "REFERRAL LETTER", "RADIOLOGY REPORT")
LAYOUTS = ("mixed", "sparse", "full")
LETTER_LINES = 28
SENTENCES = (
    "Thank you for seeing this patient in clinic regarding persistent symptoms.",
    "She reports intermittent chest tightness on exertion over the past three months.",
    "There is no history of syncope, palpitations or orthopnoea at present.",
    "Blood pressure today was 148/92 mmHg with a regular pulse of 78 per minute.",
    "Examination of the heart and lungs was otherwise unremarkable on this occasion.",
    "Current medication: amlodipine 5 mg once daily and atorvastatin 20 mg at night.",
    "Recent bloods showed an HbA1c of 52 mmol/mol and normal renal function.",
    "An ECG recorded in the surgery showed sinus rhythm without ischaemic change.",
    "We have advised a reduction in salt intake and regular walking most days.",
    "Please arrange an exercise tolerance test and review the lipid profile.",
    "The patient understands the plan and is happy to be contacted by telephone.",
    "Allergies: penicillin (rash). Smoking: ex-smoker, stopped in 2015.",
    "Follow up in the practice in six weeks or sooner if symptoms worsen.",
    "Safety-netting advice was given, including when to call an ambulance.",
)


@dataclass
class Figures:
    """What one bench run measured; printed as a table and, with --json, as one object."""

    pages: int
    layout: str
    processes: int
    rounds: int
    # The box the pipeline ran on: "plain", "encrypted", or "both" (plain, with the encrypted_* fields).
    box: str
    baseline_seconds: float
    baseline_pages_per_minute: float
    baseline_cpu_seconds_per_page: float
    baseline_other_load: float
    pipeline_seconds: float
    pipeline_pages_per_minute: float
    pipeline_cpu_seconds_per_page: float
    pipeline_other_load: float
    ratio: float
    worker_peak_rss_mb: float
    pool_start_seconds: float
    pool_process_peak_rss_mb: float
    pool_total_peak_rss_mb: float
    # With --both: the pipeline on an encrypted box, and encrypted/plain (pages/min; 1.0 = free).
    encrypted_seconds: float | None = None
    encrypted_pages_per_minute: float | None = None
    encrypted_cpu_seconds_per_page: float | None = None
    encrypted_other_load: float | None = None
    encrypted_ratio: float | None = None
    encrypted_to_plain: float | None = None


@dataclass
class Run:
    """One side's wall time, its own CPU time, and the whole machine's busy CPU time meanwhile."""

    seconds: float
    cpu: float
    machine_busy: float

    def __add__(self, other: Run) -> Run:
        """Two runs of the same side as one (rounds add up)."""
        return Run(self.seconds + other.seconds, self.cpu + other.cpu, self.machine_busy + other.machine_busy)

    def other_load(self) -> float:
        """Share of the machine's CPU capacity used by other programs while this side ran."""
        return max(0.0, (self.machine_busy - self.cpu) / (self.seconds * (psutil.cpu_count() or 1)))


def machine_busy() -> float:
    """CPU seconds all cores have been busy so far (every process, plus time the hypervisor stole)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def own_cpu() -> float:
    """CPU seconds used so far by this process and its waited-for children."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def letter_body(index: int) -> list[str]:
    """A full page of clinic letter prose, its sentences drawn in an order of its own."""
    rng = random.Random(index)
    return [rng.choice(SENTENCES) for _ in range(LETTER_LINES)]


def page_lines(index: int, layout: str) -> list[str]:
    """The text of the bench's page `index`: a clinic record with its own patient and values.

    "sparse" is a short lab result (a quarter of the page has text), "full" a clinic letter
    filling the page, "mixed" alternates them.
    """
    from tests.factories import record_lines

    full = layout == "full" or (layout == "mixed" and index % 2 == 1)
    if full:
        return record_lines(
            mrn=f"{10_000_000 + index * 7919:08d}",
            name=NAMES[index % len(NAMES)],
            dob=f"{1 + index % 28:02d}/{1 + index % 12:02d}/{1940 + index % 60}",
            title="REFERRAL LETTER",
            doc_date=f"{1 + (index * 3) % 28:02d}/{1 + (index * 5) % 12:02d}/2024",
            body=letter_body(index),
        )
    return record_lines(
        mrn=f"{10_000_000 + index * 7919:08d}",
        name=NAMES[index % len(NAMES)],
        dob=f"{1 + index % 28:02d}/{1 + index % 12:02d}/{1940 + index % 60}",
        title=TITLES[index % len(TITLES)],
        doc_date=f"{1 + (index * 3) % 28:02d}/{1 + (index * 5) % 12:02d}/2024",
        body=[
            f"Specimen {index + 1}: venous blood, collected at the clinic.",
            f"Haemoglobin {12.0 + index % 40 / 10:.1f} g/dL   Reference range 13.0 - 17.0",
            f"White cell count {4.5 + index % 30 / 10:.1f}   Reference range 4.0 - 11.0",
            f"Platelets {150 + index * 11 % 250}   Reference range 150 - 400",
            "Comment: reviewed by the duty clinician; no further action required.",
        ],
    )


def write_page(index: int, folder: Path, layout: str) -> Path:
    """Render page `index` (low noise, its own seed) and save it as a 300 dpi PNG."""
    from tests.factories import render_page

    path = folder / f"page-{index + 1:03d}.png"
    render_page(page_lines(index, layout), noise=NOISE, seed=index + 1).save(path, format="PNG", dpi=(300, 300))
    return path


def make_pages(count: int, folder: Path, processes: int, layout: str) -> list[Path]:
    """Generate the pages in child processes, so their memory never counts as the worker's."""
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(processes) as pool:
        return list(pool.map(write_page, range(count), [folder] * count, [layout] * count))


def tesseract_cli(path: Path, env: dict[str, str]) -> None:
    """The baseline's unit of work: plain `tesseract IMG stdout --psm 3`."""
    subprocess.run(["tesseract", str(path), "stdout", "--psm", "3"], env=env, check=True, capture_output=True)


def run_baseline(pages: list[Path], processes: int) -> Run:
    """The tesseract CLI reading every page, `processes` at a time, one thread each."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    busy, cpu, start = machine_busy(), own_cpu(), time.perf_counter()
    with ThreadPoolExecutor(processes) as pool:
        list(pool.map(lambda path: tesseract_cli(path, env), pages))
    return Run(time.perf_counter() - start, own_cpu() - cpu, machine_busy() - busy)


class PoolSampler:
    """Samples, in a background thread, the RSS and CPU time of the OCR pool's processes."""

    def __init__(self, expected: int, interval: float = SAMPLE_SECONDS):
        self.expected = expected
        self.interval = interval
        self.me = psutil.Process()
        self.pool: list[psutil.Process] = []
        self.peaks: dict[int, int] = {}
        self.peak_total = 0
        self.cpu: dict[int, float] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="pool-sampler", daemon=True)

    def __enter__(self) -> PoolSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()

    def _loop(self) -> None:
        """Take a sample every `interval` seconds until stopped."""
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.interval)

    def discover(self) -> list[psutil.Process]:
        """The pool's processes: children of the runner's multiprocessing forkserver.

        Finding children scans all of /proc (tens of ms of CPU taken from the pipeline), so it
        runs only until the whole pool is up, or again after a pool process went away.
        """
        for child in self.me.children():
            try:
                if any("multiprocessing.forkserver" in part for part in child.cmdline()):
                    return child.children()
            except psutil.Error:
                continue
        return []

    def sample(self) -> None:
        """Record the pool's RSS (per-process and all-together peaks) and CPU time, tesseracts included."""
        if len(self.pool) < self.expected:
            self.pool = self.discover()
        total, alive = 0, []
        for process in self.pool:
            try:
                rss = process.memory_info().rss
                times = process.cpu_times()
            except psutil.Error:
                continue
            alive.append(process)
            self.peaks[process.pid] = max(self.peaks.get(process.pid, 0), rss)
            self.cpu[process.pid] = times.user + times.system + times.children_user + times.children_system
            total += rss
        self.pool = alive
        self.peak_total = max(self.peak_total, total)


def check_recorded(expected: int) -> None:
    """Stop the bench if any page was not OCRed and recorded (a fast failure is no result)."""
    processed = Scan.select().where(Scan.status == "processed").count()
    if processed != expected:
        statuses = [status for (status,) in Scan.select(Scan.status).tuples()]
        raise SystemExit(f"pipeline recorded {processed} of {expected} scans; statuses: {statuses}")


def check_sealed(config: Config) -> None:
    """Stop the bench unless every original and thumbnail of an encrypted box is an age stream."""
    files = [path for folder in (config.store_dir, config.thumbs_dir) for path in folder.rglob("*") if path.is_file()]
    plain = [path.name for path in files if not is_sealed_file(path)]
    if not files or plain:
        raise SystemExit(f"the encrypted box holds files that are not sealed: {plain or 'no files at all'}")


def box_config(data_dir: Path, processes: int, encrypted: bool) -> Config:
    """A fresh box's settings; an encrypted one gets a new data key, remembered in a private runtime folder."""
    if not encrypted:
        return Config(data_dir=data_dir, ocr_processes=processes)
    runtime = data_dir.with_name(f"{data_dir.name}-run")
    runtime.mkdir(mode=0o700)
    config = Config(data_dir=data_dir, ocr_processes=processes, encryption=True, runtime_dir=runtime)
    data_key.remember(config, DataKey.generate())
    return config


def run_pipeline(
    pages: list[Path], processes: int, data_dir: Path, encrypted: bool = False
) -> tuple[Run, float, PoolSampler]:
    """From intake of the first page until every scan is recorded, on a worker that is up.

    The worker starts its OCR pool once when it boots (`JobRunner.start_pool`); that start-up
    is timed on its own and returned next to the run, not spread over the pages. With
    `encrypted` the box has a data key: SQLCipher database, sealed originals and thumbnails.
    """
    config = box_config(data_dir, processes, encrypted)
    open_box(config)
    with PoolSampler(processes) as sampler:
        runner = JobRunner(config)
        try:
            start = time.perf_counter()
            runner.start_pool()
            pool_start = time.perf_counter() - start
            busy, cpu, start = machine_busy(), own_cpu(), time.perf_counter()
            sampler.sample()
            pool_cpu = sum(sampler.cpu.values())
            for path in pages:
                accept_file(path, config, source="bench", remove=False)
            runner.run_until_idle()
            seconds = time.perf_counter() - start
            sampler.sample()
            run = Run(seconds, own_cpu() - cpu + sum(sampler.cpu.values()) - pool_cpu, machine_busy() - busy)
        finally:
            runner.close()
    check_recorded(len(pages))
    database.close()
    if encrypted:
        check_sealed(config)
        data_key.forget(config)
        at_rest.use(None)
    if not sampler.peaks:
        raise SystemExit("no OCR pool process was seen; has the runner's multiprocessing context changed?")
    return run, pool_start, sampler


def per_minute(pages: int, seconds: float) -> float:
    """Pages per minute, rounded for the table."""
    return round(pages * 60 / seconds, 2)


def megabytes(size: int) -> float:
    """Bytes to MB (MiB), one decimal."""
    return round(size / 2**20, 1)


def boxes_of_round(number: int, box: str) -> tuple[bool, ...]:
    """Whether each pipeline run of round `number` is encrypted; with "both", the order alternates."""
    if box == "both":
        return (False, True) if number % 2 else (True, False)
    return (box == "encrypted",)


def measure(pages: int, processes: int, rounds: int, layout: str, box: str = "plain") -> Figures:
    """Generate the pages, then run the baseline and the pipeline over them, alternately, `rounds` times.

    `box` is "plain", "encrypted", or "both" (each round runs the pipeline on both kinds of box).
    """
    baseline = Run(0.0, 0.0, 0.0)
    pipelines = {False: Run(0.0, 0.0, 0.0), True: Run(0.0, 0.0, 0.0)}
    samplers, pool_starts = [], []
    with tempfile.TemporaryDirectory(prefix="digifort-bench-") as tmp:
        paths = make_pages(pages, Path(tmp) / "pages", processes, layout)
        for number in range(1, rounds + 1):
            baseline += run_baseline(paths, processes)
            for encrypted in boxes_of_round(number, box):
                data_dir = Path(tmp) / f"box-{number}-{'encrypted' if encrypted else 'plain'}"
                run, pool_start, sampler = run_pipeline(paths, processes, data_dir, encrypted)
                pool_starts.append(pool_start)
                pipelines[encrypted] += run
                samplers.append(sampler)
    read = pages * rounds
    worker_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pipeline = pipelines[box == "encrypted"]
    figures = Figures(
        pages=pages,
        layout=layout,
        processes=processes,
        rounds=rounds,
        box=box,
        baseline_seconds=round(baseline.seconds, 2),
        baseline_pages_per_minute=per_minute(read, baseline.seconds),
        baseline_cpu_seconds_per_page=round(baseline.cpu / read, 2),
        baseline_other_load=round(baseline.other_load(), 3),
        pipeline_seconds=round(pipeline.seconds, 2),
        pipeline_pages_per_minute=per_minute(read, pipeline.seconds),
        pipeline_cpu_seconds_per_page=round(pipeline.cpu / read, 2),
        pipeline_other_load=round(pipeline.other_load(), 3),
        ratio=round(baseline.seconds / pipeline.seconds, 3),
        worker_peak_rss_mb=megabytes(worker_kb * 1024),
        pool_start_seconds=round(max(pool_starts), 2),
        pool_process_peak_rss_mb=megabytes(max(max(s.peaks.values()) for s in samplers)),
        pool_total_peak_rss_mb=megabytes(max(s.peak_total for s in samplers)),
    )
    if box == "both":
        sealed = pipelines[True]
        figures.encrypted_seconds = round(sealed.seconds, 2)
        figures.encrypted_pages_per_minute = per_minute(read, sealed.seconds)
        figures.encrypted_cpu_seconds_per_page = round(sealed.cpu / read, 2)
        figures.encrypted_other_load = round(sealed.other_load(), 3)
        figures.encrypted_ratio = round(baseline.seconds / sealed.seconds, 3)
        figures.encrypted_to_plain = round(pipeline.seconds / sealed.seconds, 3)
    return figures


def verdict(ok: bool) -> str:
    """The mark printed next to a figure that has a target."""
    return "ok" if ok else "BELOW TARGET"


def report(figures: Figures) -> str:
    """The figures as a short table, with a warning when other programs disturbed the run."""
    f = figures
    name = "pipeline, encrypted box" if f.box == "encrypted" else "pipeline, plain box"
    rows = [
        f"Ingest: {f.pages} A4 300 dpi PNG pages ({f.layout}), {f.processes} processes, {f.rounds} round(s); "
        "seconds are totals",
        f"{'':26}{'seconds':>9}{'pages/min':>11}{'CPU s/page':>12}{'other load':>12}",
        f"{'tesseract CLI (baseline)':26}{f.baseline_seconds:>9.1f}{f.baseline_pages_per_minute:>11.1f}"
        f"{f.baseline_cpu_seconds_per_page:>12.2f}{f.baseline_other_load:>12.0%}",
        f"{name:26}{f.pipeline_seconds:>9.1f}{f.pipeline_pages_per_minute:>11.1f}"
        f"{f.pipeline_cpu_seconds_per_page:>12.2f}{f.pipeline_other_load:>12.0%}",
    ]
    if f.encrypted_ratio is not None:
        rows.append(
            f"{'pipeline, encrypted box':26}{f.encrypted_seconds:>9.1f}{f.encrypted_pages_per_minute:>11.1f}"
            f"{f.encrypted_cpu_seconds_per_page:>12.2f}{f.encrypted_other_load:>12.0%}"
        )
    rows.append(
        f"{'ratio pipeline/baseline':26}{f.ratio:>9.2f}   target >= {TARGET_RATIO}  {verdict(f.ratio >= TARGET_RATIO)}"
    )
    if (
        f.encrypted_ratio is not None
        and f.encrypted_to_plain is not None
        and f.encrypted_cpu_seconds_per_page is not None
    ):
        rows += [
            f"{'ratio encrypted/baseline':26}{f.encrypted_ratio:>9.2f}   target >= {TARGET_RATIO}  "
            f"{verdict(f.encrypted_ratio >= TARGET_RATIO)}",
            f"{'ratio encrypted/plain':26}{f.encrypted_to_plain:>9.2f}   (pages/min; 1.00 = encryption costs nothing; "
            f"CPU {f.encrypted_cpu_seconds_per_page - f.pipeline_cpu_seconds_per_page:+.2f} s/page)",
        ]
    rows += [
        f"{'worker peak RSS':26}{f.worker_peak_rss_mb:>6.0f} MB   target <= {WORKER_RSS_TARGET_MB} MB  "
        f"{verdict(f.worker_peak_rss_mb <= WORKER_RSS_TARGET_MB)}",
        f"{'OCR pool start-up':26}{f.pool_start_seconds:>9.2f} s  (once, when the worker starts; not in the ratio)",
        f"{'OCR pool process peak RSS':26}{f.pool_process_peak_rss_mb:>6.0f} MB   "
        f"(all {f.processes} together: {f.pool_total_peak_rss_mb:.0f} MB)",
    ]
    if max(f.baseline_other_load, f.pipeline_other_load, f.encrypted_other_load or 0.0) > OTHER_LOAD_WARNING:
        rows.append(
            f"warning: other programs used over {OTHER_LOAD_WARNING:.0%} of the machine during the run; "
            "the ratio is not reliable, run again on a quiet machine"
        )
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: --pages, --layout, --processes, --rounds, --encrypted or --both, --json."""
    parser = argparse.ArgumentParser(description="OCR ingest throughput against the tesseract CLI.")
    parser.add_argument("--pages", type=int, default=16, help="pages to generate and read (default 16)")
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="mixed",
        help="sparse lab results, full-page letters, or both alternately (default mixed)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel processes for both sides (default: CPU count)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="times to run baseline then pipeline, alternately; figures add up (default 1)",
    )
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument(
        "--encrypted",
        action="store_const",
        dest="box",
        const="encrypted",
        default="plain",
        help="run the pipeline on an encrypted box (SQLCipher database, sealed files)",
    )
    boxes.add_argument(
        "--both",
        action="store_const",
        dest="box",
        const="both",
        help="run the pipeline on a plain and an encrypted box each round, alternately; print encrypted/plain",
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args(argv)
    if min(args.pages, args.processes, args.rounds) < 1:
        parser.error("--pages, --processes and --rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    figures = measure(args.pages, args.processes, args.rounds, args.layout, args.box)
    print(report(figures))
    if args.json:
        print(json.dumps(asdict(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
