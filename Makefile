# The two quick-start commands: `make demo` and `make test`. Both install what is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements/*.txt | sha256sum | cut -c1-12)
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd


.PHONY: demo test lint deps test-system-packages system-packages bench clean

demo: deps
	$(PY) -m demo

# Uses DATABASE_URL, REDIS_URL and S3_ENDPOINT_URL when set; otherwise tests/servers.py starts
# throwaway PostgreSQL, Redis and S3 (moto) servers on free ports for the run.
test: deps test-system-packages lint
	$(PY) -m tests.servers -- $(PY) -m pytest $(PYTEST_ARGS)

# The same checks as .pre-commit-config.yaml: lint rules, formatting, and types (pyproject.toml).
lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: deps
	$(PY) bench/ingest.py
	$(PY) bench/search.py
	$(PY) bench/filing.py
	$(PY) bench/cipher.py
	$(PY) -m tests.servers -- $(PY) bench/hub_ingest.py
	$(PY) -m tests.servers -- $(PY) bench/sync.py

deps: system-packages $(STAMP)

system-packages:
	@missing=""; \
	tesseract --list-langs 2>/dev/null | grep -qx osd || missing="$(APT_PACKAGES)"; \
	$(PYTHON) -c "import ensurepip, venv" >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing with apt: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The browser tests drive Debian's Chromium (a test tool's own browser download is never used);
# the hub's tests need PostgreSQL's and Redis's server binaries, the deployment tests nginx and
# debootstrap (the Ansible converge runs in a fresh Debian root); the hard corpus prints its pages in
# DejaVu and Liberation fonts.
test-system-packages:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing="$$missing debootstrap"; \
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	[ -f /usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf ] || missing="$$missing fonts-liberation"; \
	command -v clevis >/dev/null 2>&1 || missing="$$missing clevis"; \
	[ -x /usr/libexec/tangd ] || missing="$$missing tang"; \
	command -v socat >/dev/null 2>&1 || missing="$$missing socat"; \
	if [ -n "$$missing" ]; then \
		echo "installing with apt:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(STAMP):
	rm -f $(VENV)/.installed-*
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt
	touch $@

clean:
	rm -rf $(VENV) var demo-data test-artifacts
