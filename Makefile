# mod_pywebsocket: build, run and test the appliance. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

IMAGE ?= mod_pywebsocket:latest
# The one version number (mod_pywebsocket/__init__.py); the image is also tagged with it.
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' mod_pywebsocket/__init__.py)
VERSION_IMAGE := $(firstword $(subst :, ,$(IMAGE))):$(VERSION)
# The commit the image is built from; "-dirty" when the working tree has changes.
REVISION := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
SOURCE := $(shell git config --get remote.origin.url 2>/dev/null || echo "file://$(CURDIR)")
PACKAGES ?= docker/packages.txt
READ_MANIFEST = docker run --rm --entrypoint cat $(IMAGE) /usr/share/mod_pywebsocket/manifest.txt
BASE_IMAGE ?= debian:bookworm-slim
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 180
FUZZ_TARGETS := frames handshake extensions
NO_DEFLATE_CASES := $(foreach s,1 2 3 4 5 6 7 9 10,--case '$(s).*')
# The deflate sections (12, 13) took 5.5 of make test's 19 minutes here, and run the
# same core code on both servers. Unless FULL=1: on the appliance all but their 63
# largest-message cases outside 12.1, 13.1 and 13.7 (--skip-large-deflate, 454 of 517
# cases, 2.2 min); on the standalone server three of their eleven groups (every
# message size, default and smallest windows).
APACHE_CASES := $(if $(FULL),,--skip-large-deflate)
STANDALONE_CASES := $(if $(FULL),,$(NO_DEFLATE_CASES) --case '12.1.*' --case '13.1.*' --case '13.7.*')
# `docker compose` (v2) where it exists, else `docker-compose` (v1).
COMPOSE := $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; \
             elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi)

.PHONY: help base-image image manifest lock dist up down test lint unit integration browser chromium tshark conformance client-conformance fuzz soak bench clean

help: ## list the targets
	@awk -F':.*## ' '/^[a-z-]+:.*## / { printf "  make %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

base-image: ## make sure $(BASE_IMAGE) exists: pull it, or build it from the host's Debian mirror
	@docker image inspect $(BASE_IMAGE) >/dev/null 2>&1 \
	  || docker pull -q $(BASE_IMAGE) 2>/dev/null \
	  || { echo "no registry for $(BASE_IMAGE): building it with debootstrap"; docker/bootstrap-base.sh $(BASE_IMAGE); }

image: base-image ## build the appliance image ($(IMAGE), also tagged $(VERSION_IMAGE)), labelled with version and commit
	docker build -q -f docker/Dockerfile --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg PACKAGES=$(PACKAGES) \
	  --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg SOURCE=$(SOURCE) \
	  --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) -t $(IMAGE) -t $(VERSION_IMAGE) . >/dev/null
	@echo "built $(IMAGE) = $(VERSION_IMAGE) from $(REVISION)" >&2

manifest: image ## print what the image is made of (Debian packages, Python, Apache, mod_python, this package)
	@$(READ_MANIFEST)

lock: image ## pin every Debian package of the image in docker/packages.lock (use: make image PACKAGES=docker/packages.lock)
	@{ echo "# Every Debian package of $(VERSION_IMAGE) ($(REVISION)), pinned; written by make lock."; \
	  $(READ_MANIFEST) | awk '/^packages:/ { p = 1; next } p { print $$1 "=" $$2 }'; } > docker/packages.lock
	@echo "docker/packages.lock: $$(grep -vc '^#' docker/packages.lock) packages pinned"

dist: $(VENV)/.installed ## build the wheel and the sdist into dist/
	rm -rf dist && $(PY) -m build -q --outdir dist . >/dev/null
	@ls -1 dist

up: image ## run the appliance in the foreground with docker compose (ws :8080, wss :8443)
	$(COMPOSE) up

down: ## stop what `make up` / `docker compose up` started
	$(COMPOSE) down

$(VENV)/.installed: tests/requirements.txt pyproject.toml setup.py mod_pywebsocket/_speedups.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r tests/requirements.txt
	$(PY) -m pip install -q -e .
	touch $@

lint: $(VENV)/.installed ## ruff check and format check; the core, the runtime and the HTTP/3 adapter type-checked strictly (mypy)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check mod_pywebsocket handlers tests bench
	$(VENV)/bin/mypy --strict mod_pywebsocket/core mod_pywebsocket/runtime
	$(VENV)/bin/mypy --strict --follow-imports=silent mod_pywebsocket/adapters/h3
	$(VENV)/bin/mypy --strict --follow-imports=silent $(addprefix mod_pywebsocket/adapters/apache/,readiness.py probes.py error_log.py)
	$(VENV)/bin/mypy --strict $(addprefix mod_pywebsocket/client_conformance/,case.py verdicts.py recording.py cases)

unit: $(VENV)/.installed tshark ## unit tests of the protocol core and the runtime (no Docker; tshark opens the captures they write)
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.installed image chromium tshark ## both servers (the image and standalone), real clients, ws and wss
	MPWS_IMAGE=$(IMAGE) $(PY) -m pytest -q tests/integration $(PYTEST_ARGS)

# The browser engines of `make browser` and `make client-conformance`: chromium, firefox, webkit,
# comma-separated (default: all three; `make engines` installs what they lack from Debian's
# packages). tests/engines knows what each needs.
ENGINES ?=

tshark: ## make sure Debian's tshark is installed (the tests open captures with it)
	@command -v tshark >/dev/null || { echo "installing Debian's tshark"; apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark >/dev/null; }

chromium: ## make sure Debian's chromium and chromedriver are installed
	@$(MAKE) --no-print-directory engines ENGINES=chromium

.PHONY: engines
engines: ## install the Debian packages the ENGINES (default: all three) lack
	@set -e; missing="$$($(PYTHON) -m tests.engines --missing '$(or $(ENGINES),chromium firefox webkit)')"; \
	if [ -n "$$missing" ]; then echo "installing Debian's $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

browser: $(VENV)/.installed image engines ## headless Chromium, Firefox, WebKit (ENGINES=; default: all installed) against both servers, ws and wss
	MPWS_IMAGE=$(IMAGE) ENGINES='$(ENGINES)' $(PY) -m pytest -q tests/browser $(PYTEST_ARGS)

conformance: $(VENV)/.installed image ## the Autobahn TestSuite (kosoku): 12/13 in part (FULL=1: all 517 on both); 1-10 over wss
	MPWS_IMAGE=$(IMAGE) $(PY) -m tests.conformance --server apache $(APACHE_CASES)
	MPWS_IMAGE=$(IMAGE) $(PY) -m tests.conformance --server apache --tls $(NO_DEFLATE_CASES)
	$(PY) -m tests.conformance --server standalone $(STANDALONE_CASES)
	$(PY) -m tests.conformance --server standalone --tls $(NO_DEFLATE_CASES)

client-conformance: $(VENV)/.installed image engines ## the browsers (ENGINES=) through the 517 client cases (CASES=, or CASES=bounded) over ws, HTTP/2 and HTTP/3 (TRANSPORTS=ws,h2,h3); fails on a verdict its expected/<engine>.json does not hold (UPDATE_EXPECTED=1 rewrites them) or a case on another transport; KOSOKU=1: also through kosoku's
	MPWS_IMAGE=$(IMAGE) ENGINES='$(ENGINES)' $(PY) -m tests.client_conformance.browsers $(if $(KOSOKU),--kosoku) \
	  $(if $(CASES),--cases '$(CASES)') $(if $(TRANSPORTS),--transports $(TRANSPORTS)) $(if $(UPDATE_EXPECTED),--update-expected)

fuzz: $(VENV)/.installed ## atheris on the frame, handshake and extension parsers, FUZZ_SECONDS each (crashes: reports/fuzz/)
	@mkdir -p reports/fuzz; for t in $(FUZZ_TARGETS); do echo "fuzzing $$t for $(FUZZ_SECONDS)s"; \
	  $(PY) -m tests.fuzz.run $$t $(FUZZ_SECONDS) > reports/fuzz/$$t.log 2>&1 || { tail -40 reports/fuzz/$$t.log; exit 1; }; \
	  grep -h '^stat::number_of_executed_units\|^stat::new_units_added' reports/fuzz/$$t.log; done

soak: $(VENV)/.installed image ## both servers under mixed load for SOAK_SECONDS (default 180) each; fails on any lost echo
	MPWS_IMAGE=$(IMAGE) $(PY) -m tests.soak --seconds $(SOAK_SECONDS)

bench: $(VENV)/.installed image ## speed against pywebsocket3, websockets and a C echo (table + reports/bench/*.json)
	@test -e /usr/include/openssl/sha.h || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libssl-dev >/dev/null; }
	MPWS_IMAGE=$(IMAGE) $(PY) -m bench.run $(BENCH_ARGS)

test: lint unit integration browser conformance ## everything above: lint, unit, integration, browser, conformance, each engine through a few client cases per section, 15 s of fuzzing per target
	$(MAKE) --no-print-directory client-conformance CASES=bounded
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15

clean: ## remove the venv, caches and reports
	rm -rf $(VENV) reports .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
