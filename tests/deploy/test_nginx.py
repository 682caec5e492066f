"""The nginx configs, rendered as the playbooks render them, checked by Debian's nginx and then
used for real: TLS in front of the apps under gunicorn, headers, size limits, login flood."""

import datetime as dt
import ipaddress
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from core.waiting import wait_for_http
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="Debian nginx missing")
HUB_NAME = "hub.digifort.test"


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate and key for `name` (and 127.0.0.1), as the playbook generates for a box."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / f"{name}.crt", folder / f"{name}.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, private


def render(folder: Path, site: str, **values) -> Path:
    """The site config and its proxy parameters rendered into `folder`, wrapped in a main nginx.conf."""
    templates = Environment(loader=FileSystemLoader(ROOT / "nginx"), undefined=StrictUndefined)
    params = folder / "proxy_params"
    params.write_text(templates.get_template("proxy_params.j2").render(**values))
    (folder / "site.conf").write_text(templates.get_template(f"{site}.conf.j2").render(proxy_params=params, **values))
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / sub).mkdir(exist_ok=True)
    main = folder / "nginx.conf"
    main.write_text(f"""
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include /etc/nginx/mime.types;
    include {folder}/site.conf;
}}
""")
    return main


def nginx_test(conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run([NGINX, "-t", "-c", str(conf)], capture_output=True, text=True)


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))


def stop(*processes):
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def test_box_config_passes_nginx_t_and_serves_the_ui_over_tls_with_limits(tmp_path):
    cert, key = self_signed(tmp_path, "box.clinic.test")
    app_port, https_port, http_port = free_port(), free_port(), free_port()
    conf = render(
        tmp_path,
        "box",
        upstream=f"127.0.0.1:{app_port}",
        tls_certificate=cert,
        tls_certificate_key=key,
        https_port=https_port,
        http_port=http_port,
        static_root=ROOT / "core" / "web" / "static",
        max_body="2m",
        login_rate="30r/m",
        login_burst=3,
    )
    checked = nginx_test(conf)
    assert checked.returncode == 0, checked.stderr
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(tmp_path / "box"),
        APPLIANCE_PROXY_HOPS="1",
        APPLIANCE_SECURE_COOKIES="true",
        APPLIANCE_WEB_WORKERS="2",
        APPLIANCE_OCR_PROCESSES="1",
    )
    app = start(
        [sys.executable, "-m", "appliance", "serve", "--bind", f"127.0.0.1:{app_port}"], env, tmp_path / "app.log"
    )
    proxy = start([NGINX, "-c", str(conf)], env, tmp_path / "nginx.log")
    try:
        wait_for_http(f"http://127.0.0.1:{app_port}/healthz")
        base = f"https://127.0.0.1:{https_port}"
        for _ in range(50):
            try:
                requests.get(f"{base}/healthz", verify=cert, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        session = requests.Session()
        session.trust_env = False  # a CA bundle from the environment would override the box's own certificate
        session.verify = str(cert)
        login = session.get(f"{base}/login", timeout=5)
        assert login.status_code == 200 and "Sign in" in login.text
        assert login.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "script-src 'self'" in login.headers["Content-Security-Policy"]
        assert "Secure" in login.headers["Set-Cookie"] and "HttpOnly" in login.headers["Set-Cookie"]
        css = session.get(f"{base}/static/app.css", timeout=5)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
        redirect = requests.get(f"http://127.0.0.1:{http_port}/login", allow_redirects=False, timeout=5)
        assert redirect.status_code == 301 and redirect.headers["Location"].startswith("https://")
        too_big = session.post(f"{base}/upload", data=b"x" * (3 * 1024 * 1024), timeout=10)
        assert too_big.status_code == 413
        flood = [
            session.post(f"{base}/login", data={"username": "nobody", "password": "wrong"}, timeout=5).status_code
            for _ in range(12)
        ]
        assert 429 in flood and flood[0] != 429
    finally:
        stop(proxy, app)


def test_hub_config_passes_nginx_t_drops_unknown_hosts_and_limits_sizes(tmp_path):
    cert, key = self_signed(tmp_path, HUB_NAME)
    app_port, https_port, http_port = free_port(), free_port(), free_port()
    conf = render(
        tmp_path,
        "hub",
        upstream=f"127.0.0.1:{app_port}",
        tls_certificate=cert,
        tls_certificate_key=key,
        https_port=https_port,
        http_port=http_port,
        server_name=HUB_NAME,
        api_rate="5r/s",
        api_burst=5,
    )
    checked = nginx_test(conf)
    assert checked.returncode == 0, checked.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET")}
    env.update(HUB_DATA_DIR=str(tmp_path / "hub"), HUB_WEB_WORKERS="2")
    app = start(
        [sys.executable, "-m", "cloud_hub", "serve", "--bind", f"127.0.0.1:{app_port}"], env, tmp_path / "app.log"
    )
    proxy = start([NGINX, "-c", str(conf)], env, tmp_path / "nginx.log")
    try:
        wait_for_http(f"http://127.0.0.1:{app_port}/healthz")
        base = f"https://127.0.0.1:{https_port}"
        named = {"Host": HUB_NAME}
        for _ in range(50):
            try:
                requests.get(f"{base}/healthz", headers=named, verify=cert, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        healthy = requests.get(f"{base}/healthz", headers=named, verify=cert, timeout=5)
        assert healthy.status_code == 200 and healthy.headers["Strict-Transport-Security"]
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base}/healthz", headers={"Host": "other.example"}, verify=cert, timeout=5)
        too_big = requests.put(
            f"{base}/api/v1/sync/blobs/{'a' * 64}?size=1&offset=0",
            headers=named,
            data=b"x" * (10 * 1024 * 1024),
            verify=cert,
            timeout=10,
        )
        assert too_big.status_code == 413
        flood = [
            requests.get(f"{base}/api/v1/sync/time", headers=named, verify=cert, timeout=5).status_code
            for _ in range(30)
        ]
        assert 429 in flood and flood[0] == 200
        redirect = requests.get(f"http://127.0.0.1:{http_port}/", allow_redirects=False, timeout=5)
        assert redirect.status_code == 301 and redirect.headers["Location"] == f"https://{HUB_NAME}/"
    finally:
        stop(proxy, app)
