"""Cipher benchmark: what encryption at rest costs per megabyte, against a plain memory copy.

The box seals files as age streams (pyrage: X25519, then ChaCha20-Poly1305 in 64 KiB chunks)
and its database with SQLCipher 4 (AES-256-CBC per page and an HMAC-SHA512 per page, through
the OpenSSL linked into the sqlcipher3 wheel). A Raspberry Pi 4 (Cortex-A72) has no AES
instructions, so what matters there is how each cipher runs in software. On x86_64 the bench
measures everything twice, in child processes run alternately: as the CPU is, and with
`OPENSSL_ia32cap` masking AES-NI, VAES and the carry-less multiplies from OpenSSL (both the copy inside the
`cryptography` wheel and the one inside the sqlcipher3 wheel read it when they start), which
leaves OpenSSL its vector-permutation AES, the kind of code it also runs on a Cortex-A72.
age's ChaCha20 is Rust code of its own and does not use AES instructions either way.

Each figure is MB/s (MiB), the best of the repetitions in the best round, and its ratio to
the baseline "memcpy" (copying the same buffer in memory) measured in the same process. The
SQLCipher rows write and then scan a table of 3.9 KB blobs, one a page (the box's page size), first with
plain SQLite (the same sqlcipher3 module, no key), then keyed: their baseline is that plain
table, since both pay SQLite's own work.

    .venv/bin/python bench/cipher.py [--mb 32] [--rounds 3] [--mask OPENSSL_IA32CAP] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyrage
import sqlcipher3
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

# OPENSSL_ia32cap: "~" clears bits of the CPUID words OpenSSL keeps. Before the colon, CPUID leaf 1:
# bit 57 AES-NI, bit 33 PCLMULQDQ (ECX bits 25 and 1). After it, leaf 7: bits 41 and 42 are VAES
# and VPCLMULQDQ (ECX bits 9 and 10). Without the part after the colon OpenSSL clears the whole
# of leaf 7 (AVX2, SHA, ...) as well, which would slow SHA-512 and ChaCha20 down too.
NO_AES_NI = "~0x200000200000000:~0x60000000000"
REPETITIONS = 3
# A row's blob: one row to a 4 KiB page, in plain SQLite and in SQLCipher (which keeps 80 bytes of
# each page for its IV and HMAC), with no overflow page, so a scan decrypts every page.
BLOB = 3900
MEASURES = (
    "memcpy",
    "age encrypt (ChaCha20-Poly1305)",
    "age decrypt (ChaCha20-Poly1305)",
    "ChaCha20-Poly1305 (OpenSSL)",
    "AES-256-CBC encrypt (OpenSSL)",
    "AES-256-CBC decrypt (OpenSSL)",
    "HMAC-SHA512 (OpenSSL)",
    "SQLite write, plain",
    "SQLite write, SQLCipher",
    "SQLite scan, plain",
    "SQLite scan, SQLCipher",
)


def best_rate(call: Callable[[], object], megabytes: float) -> float:
    """The best MB/s of `REPETITIONS` calls of `call()`, each handling `megabytes`."""
    best = float("inf")
    for _ in range(REPETITIONS):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return round(megabytes / best, 1)


def openssl_rates(data: bytes, megabytes: float) -> dict[str, float]:
    """Bulk AES-256-CBC both ways, HMAC-SHA512 and ChaCha20-Poly1305, through `cryptography`'s OpenSSL."""
    key, iv = secrets.token_bytes(32), secrets.token_bytes(16)

    def cbc(direction: str) -> Callable[[], bytes]:
        def run() -> bytes:
            context = getattr(Cipher(algorithms.AES(key), modes.CBC(iv)), direction)()
            return context.update(data) + context.finalize()

        return run

    def mac() -> bytes:
        h = hmac.HMAC(secrets.token_bytes(64), hashes.SHA512())
        h.update(data)
        return h.finalize()

    chacha = ChaCha20Poly1305(key)
    return {
        "ChaCha20-Poly1305 (OpenSSL)": best_rate(lambda: chacha.encrypt(iv[:12], data, None), megabytes),
        "AES-256-CBC encrypt (OpenSSL)": best_rate(cbc("encryptor"), megabytes),
        "AES-256-CBC decrypt (OpenSSL)": best_rate(cbc("decryptor"), megabytes),
        "HMAC-SHA512 (OpenSSL)": best_rate(mac, megabytes),
    }


def age_rates(data: bytes, megabytes: float) -> dict[str, float]:
    """pyrage sealing and opening the buffer, as the box seals a file."""
    identity = pyrage.x25519.Identity.generate()
    recipients = [identity.to_public()]
    sealed = pyrage.encrypt(data, recipients)
    return {
        "age encrypt (ChaCha20-Poly1305)": best_rate(lambda: pyrage.encrypt(data, recipients), megabytes),
        "age decrypt (ChaCha20-Poly1305)": best_rate(lambda: pyrage.decrypt(sealed, [identity]), megabytes),
    }


def sqlite_rates(folder: Path, megabytes: float, key: str | None) -> dict[str, float]:
    """Write a table of 3.9 KB blobs in one transaction, then scan it on a new connection (the file
    is in the OS cache: what is measured is SQLite's work and, when keyed, SQLCipher's)."""
    kind = "SQLCipher" if key else "plain"
    rows = int(megabytes * 2**20 // BLOB)
    blobs = [(secrets.token_bytes(BLOB),) for _ in range(rows)]
    path = folder / f"{kind}.db"

    def connect() -> sqlcipher3.Connection:
        conn = sqlcipher3.connect(str(path), isolation_level=None)
        if key:
            conn.execute(f'PRAGMA key = "{key}"')
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -2000")
        return conn

    def write() -> None:
        path.unlink(missing_ok=True)
        conn = connect()
        conn.execute("CREATE TABLE blob (data BLOB)")
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO blob (data) VALUES (?)", blobs)
        conn.execute("COMMIT")
        conn.close()

    def scan() -> None:
        conn = connect()
        conn.execute("SELECT sum(length(data)) FROM blob").fetchone()
        conn.close()

    size = rows * BLOB / 2**20
    return {f"SQLite write, {kind}": best_rate(write, size), f"SQLite scan, {kind}": best_rate(scan, size)}


def measure(megabytes: int) -> dict[str, float]:
    """Every figure of one round, in this process (its OpenSSL set up as the environment says)."""
    data = secrets.token_bytes(megabytes * 2**20)
    rates = {"memcpy": best_rate(lambda: bytearray(data), megabytes)}
    rates |= age_rates(data, megabytes)
    rates |= openssl_rates(data, megabytes)
    with tempfile.TemporaryDirectory(prefix="digifort-cipher-bench-") as tmp:
        rates |= sqlite_rates(Path(tmp), megabytes, None)
        rates |= sqlite_rates(Path(tmp), megabytes, f"x'{secrets.token_hex(32)}'")
    return rates


def child(megabytes: int, mask: str | None) -> dict[str, float]:
    """One round in a fresh process, with `mask` as OPENSSL_ia32cap (None: the CPU as it is)."""
    env = {key: value for key, value in os.environ.items() if key != "OPENSSL_ia32cap"}
    if mask is not None:
        env["OPENSSL_ia32cap"] = mask
    command = [sys.executable, str(Path(__file__).resolve()), "--round", "--mb", str(megabytes)]
    return json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)


def cpu_aes() -> str:
    """Whether the CPU announces AES instructions (x86 `aes`, Arm `aes`), from /proc/cpuinfo."""
    try:
        flags = {word for line in Path("/proc/cpuinfo").read_text().splitlines() for word in line.split()}
    except OSError:
        return "unknown"
    return "yes" if "aes" in flags else "no"


def machine() -> dict[str, str]:
    """The CPU, whether it has AES instructions, and the OpenSSL builds in play."""
    from cryptography.hazmat.backends.openssl import backend

    conn = sqlcipher3.connect(":memory:")
    conn.execute("PRAGMA key = 'probe'")
    cipher = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("cipher_version", "cipher")}
    provider = conn.execute("PRAGMA cipher_provider_version").fetchone()[0]
    conn.close()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith(("model name", "Model"))
        ),
        platform.processor(),
    )
    return {
        "cpu": f"{os.cpu_count()}-core {model} ({platform.machine()})",
        "aes_instructions": cpu_aes(),
        "sqlcipher": f"SQLCipher {cipher['cipher_version']}, cipher {cipher['cipher']}, {provider}",
        "cryptography": f"cryptography's {backend.openssl_version_text()}",
    }


def best_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's best over the rounds (the round least disturbed by other programs)."""
    return {name: max(r[name] for r in rounds) for name in MEASURES}


def ratio_to_baseline(rates: dict[str, float], name: str) -> float:
    """A figure against its named baseline: memcpy, or for SQLite rows the plain SQLite row."""
    if name.startswith("SQLite"):
        return rates[name] / rates[name.replace("SQLCipher", "plain")]
    return rates[name] / rates["memcpy"]


def report(info: dict[str, str], columns: dict[str, dict[str, float]], megabytes: int, rounds: int) -> str:
    """One row per figure: MB/s and ratio to its baseline for each column."""
    head = "".join(f"{title + ' MB/s':>22}{'ratio':>8}" for title in columns)
    rows = [
        f"Ciphers: {megabytes} MB buffers, best of {REPETITIONS} repetitions in the best of {rounds} round(s)",
        *(f"{key}: {value}" for key, value in info.items()),
        "baseline: memcpy (copy of the same buffer); SQLite rows: the same table in plain SQLite",
        f"{'':34}{head}",
    ]
    for name in MEASURES:
        cells = "".join(f"{rates[name]:>22.1f}{ratio_to_baseline(rates, name):>8.3f}" for rates in columns.values())
        rows.append(f"{name:34}{cells}")
    if len(columns) == 2:
        with_aes, without = columns.values()
        rows.append("without/with AES-NI, per figure:")
        rows += [f"  {name:32}{without[name] / with_aes[name]:>8.2f}" for name in MEASURES if name != "memcpy"]
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: --mb, --rounds, --mask, --json (and --round, what a child process runs)."""
    parser = argparse.ArgumentParser(description="Cipher speed of encryption at rest against a memory copy.")
    parser.add_argument("--mb", type=int, default=32, help="MB per buffer and per table (default 32)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind, alternately (default 3)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    parser.add_argument(
        "--mask",
        default=NO_AES_NI,
        help=f"OPENSSL_ia32cap for the column without AES instructions (default {NO_AES_NI})",
    )
    parser.add_argument("--round", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.mb, args.rounds) < 1:
        parser.error("--mb and --rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the rounds in child processes, alternately with and without AES-NI, and print the figures."""
    args = parse_args(argv)
    if args.round:
        print(json.dumps(measure(args.mb)))
        return 0
    kinds: dict[str, str | None] = {"as is": None}
    if platform.machine() in ("x86_64", "AMD64") and cpu_aes() == "yes":
        kinds = {"AES-NI": None, "no AES-NI": args.mask}
    rounds: dict[str, list[dict[str, float]]] = {title: [] for title in kinds}
    for _ in range(args.rounds):
        for title, masked in kinds.items():
            rounds[title].append(child(args.mb, masked))
    columns = {title: best_of(values) for title, values in rounds.items()}
    info = machine()
    if "no AES-NI" in kinds:
        info["no AES-NI"] = f"OPENSSL_ia32cap={args.mask}"
    print(report(info, columns, args.mb, args.rounds))
    if args.json:
        print(json.dumps({"machine": info, "mb": args.mb, "rounds": args.rounds, "mb_per_second": columns}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
