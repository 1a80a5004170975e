# comfy-gateway: `make run` starts the gateway, `make test` runs everything CI checks.
# Both install libuv1-dev and libsqlite3-dev with apt-get when missing, so a fresh machine needs nothing else.

SWIFT ?= swift
SECONDS ?= 60
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BUILD_FLAGS := --explicit-target-dependency-import-check error
FORMATTED := Sources Tests Package.swift

.PHONY: run demo test build deps bench fuzz format lint tsan asan sanitize blackbox comfyui-0.33 emulator autobahn install

deps:
	@{ [ -f /usr/include/uv.h ] && [ -f /usr/include/sqlite3.h ] && command -v pkg-config >/dev/null; } || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libuv1-dev libsqlite3-dev pkg-config; }

## Start the gateway (release build, Swift runtime linked statically: smaller and faster) with
## the default configuration (.env if present).
run: deps
	$(SWIFT) build -c release --static-swift-stdlib --product comfy-gateway
	./.build/release/comfy-gateway

## Try the API without a GPU: the ComfyUI emulator on 127.0.0.1:8188 and the gateway wired to it
## on :8000 (Ctrl-C stops both). The README walks through a run with curl.
demo: deps .build-venv/installed
	$(SWIFT) build -c release --static-swift-stdlib --product comfy-gateway
	Tests/ComfyEmulator/demo.sh ./.build/release/comfy-gateway

build: deps
	$(SWIFT) build --build-tests $(BUILD_FLAGS)

## The suites with timeouts measured in seconds (servers, clients, the loop) run on their own,
## after the rest: the others start a ComfyUI emulator per test and compile the manifest
## (ArchitectureTests), and that burst of CPU on 2 cores can hold a test task off its thread for
## seconds, long enough to miss a 1 s ping deadline it is meant to meet.
TIMED_SUITES := ReactorTests|RoutingTests|ClientTests

## Everything CI checks: format, layering (import check + ArchitectureTests), all suites, the
## black-box clients, and the Reactor, Routing and Client suites again under ThreadSanitizer.
test: deps lint build .build-venv/installed
	$(SWIFT) test --skip-build --skip '$(TIMED_SUITES)'
	$(SWIFT) test --skip-build --filter '$(TIMED_SUITES)'
	$(MAKE) blackbox
	$(MAKE) comfyui-0.33
	$(MAKE) emulator
	$(MAKE) autobahn
	$(MAKE) tsan

## The Autobahn testsuite: fuzzingclient against the test WebSocket echo endpoint, and our
## WebSocket client against its fuzzingserver.
autobahn: build
	Tests/Conformance/autobahn-server.sh
	Tests/Conformance/autobahn-client.sh

## The Python test environment (pytest, httpx, h11, websockets, and the emulator's aiohttp and
## Pillow), reinstalled whenever a requirements file changes.
.build-venv/installed: Tests/BlackBox/requirements.txt Tests/ComfyEmulator/requirements.txt
	@[ -x .build-venv/bin/python3 ] || python3 -m venv .build-venv
	.build-venv/bin/pip install -q -r Tests/BlackBox/requirements.txt
	@touch $@

## Independent clients (httpx, h11's strict parser, websockets) against the real executables.
blackbox: build .build-venv/installed
	.build-venv/bin/pytest -q Tests/BlackBox

## Every suite that talks to ComfyUI again, with the emulator imitating ComfyUI 0.33 (job
## routes, cancel by id, the prompt-id rule) instead of 0.3.64: the Swift suites that start an
## emulator, then the black-box clients.
comfyui-0.33: build .build-venv/installed
	COMFY_EMULATOR_VERSION=0.33 $(SWIFT) test --skip-build \
		--filter 'AtomComfyHTTPTests|AtomComfySocketTests|MoleculeTests|GatewayTests'
	COMFY_EMULATOR_VERSION=0.33 .build-venv/bin/pytest -q Tests/BlackBox

## The ComfyUI emulator's own tests: every recorded trace replayed, controls, routes.
emulator: .build-venv/installed
	.build-venv/bin/pytest -q Tests/ComfyEmulator

## One test at a time: under ThreadSanitizer the suites run ~10x slower, and in parallel the
## timing tests (timeouts, pings) starve each other.
tsan: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) test --skip-build --no-parallel --sanitize=thread --scratch-path .build-tsan --filter 'ReactorTests|RoutingTests|ClientTests|GatewayTests|JobTrackerTests|SessionsTests|StoreTests'

## Every Swift suite under ThreadSanitizer, then every Swift suite and the black-box clients
## against the gateway built with AddressSanitizer. LeakSanitizer's exit-time report is off: the
## test processes end with loops and pools still alive, and it lists those (and Foundation's file
## reads) by the hundred. The two flat-memory checks are left out there: ASan's quarantine keeps
## freed memory on purpose. Not part of `make test` (about 15 minutes).
sanitize: deps .build-venv/installed
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) test --skip-build --no-parallel --sanitize=thread --scratch-path .build-tsan
	$(MAKE) asan

asan: deps .build-venv/installed
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan
	COMFY_GATEWAY_BINARY=$(CURDIR)/.build-asan/debug/comfy-gateway \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 .build-venv/bin/pytest -q Tests/BlackBox -k 'not flat_memory'

## Installs the gateway as a systemd service: the release binary to $(PREFIX)/bin, the units to
## $(UNITDIR), a sysusers.d entry for the group that may read the settings, and the env file to
## /etc/comfy-gateway (kept if it exists: it is the operator's), with the image directories in
## the service's state directory. Then `systemctl enable --now comfy-gateway` (or the .socket).
PREFIX ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
ENVFILE := $(DESTDIR)/etc/comfy-gateway/comfy-gateway.env
STATEDIR := /var/lib/comfy-gateway
ISUDO := $(if $(DESTDIR),,$(SUDO))
install: deps
	$(SWIFT) build -c release --static-swift-stdlib --product comfy-gateway
	sed 's#/usr/local/bin/comfy-gateway#$(PREFIX)/bin/comfy-gateway#' config/comfy-gateway.service \
		> .build/comfy-gateway.service
	sed -e 's#^INPUT_DIR=.*#INPUT_DIR=$(STATEDIR)/input#' -e 's#^OUTPUT_DIR=.*#OUTPUT_DIR=$(STATEDIR)/output#' \
		-e 's#^STATE_DIR=.*#STATE_DIR=$(STATEDIR)/state#' config/comfy-gateway.env > .build/comfy-gateway.env
	echo 'g comfy-gateway -' > .build/comfy-gateway.sysusers
	$(ISUDO) install -D -s -m 0755 .build/release/comfy-gateway $(DESTDIR)$(PREFIX)/bin/comfy-gateway
	$(ISUDO) install -D -m 0644 -t $(DESTDIR)$(UNITDIR) .build/comfy-gateway.service config/comfy-gateway.socket
	$(ISUDO) install -D -m 0644 .build/comfy-gateway.sysusers $(DESTDIR)$(SYSUSERSDIR)/comfy-gateway.conf
	[ -n "$(DESTDIR)" ] || getent group comfy-gateway >/dev/null || $(ISUDO) groupadd --system comfy-gateway
	[ -e $(ENVFILE) ] && echo "keeping existing $(ENVFILE)" || \
		$(ISUDO) install -D -m 0640 $(if $(DESTDIR),,-g comfy-gateway) .build/comfy-gateway.env $(ENVFILE)
	[ -n "$(DESTDIR)" ] || [ ! -d /run/systemd/system ] || $(ISUDO) systemctl daemon-reload

lint:
	$(SWIFT) format lint --strict -r $(FORMATTED)

format:
	$(SWIFT) format -i -r $(FORMATTED)

## Benchmarks (not part of CI): the gateway's HTTP (as shipped and with LOG_LEVEL=error) against a
## Node.js http hello world and a raw C libuv server (Tests/Bench/libuv-hello.c) with wrk,
## the WebSocket broadcast (Tests/Bench/ws-bench.sh) against node-ws, then a 100 MB download from
## the ComfyUI emulator through the upstream atom (MB/s and RSS growth), and the REST proxy
## overhead (Tests/Bench/proxy-bench.sh: GET /api/v1/queue/status versus the emulator's /queue),
## and the WebSocket gateway (Tests/Bench/ws_gateway_bench.py: 1,000 subscribers, 100 client ids),
## then the job ledger: submits with and without it (Tests/Bench/submit-bench.sh) and its size and
## reads at 100,000 jobs (ledger-bench).
bench: deps
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; }
	for product in comfy-gateway websocket-echo websocket-load; do \
		$(SWIFT) build -c release --static-swift-stdlib --product $$product || exit 1; done
	Tests/Bench/bench.sh .build/release/comfy-gateway
	Tests/Bench/ws-bench.sh .build/release/websocket-echo .build/release/websocket-load
	$(MAKE) .build-venv/installed
	Tests/Bench/proxy-bench.sh .build/release/comfy-gateway
	.build-venv/bin/python Tests/Bench/ws_gateway_bench.py .build/release/comfy-gateway .build/release/websocket-load
	$(SWIFT) build -c release --product upstream-bench
	.build/release/upstream-bench
	Tests/Bench/submit-bench.sh .build/release/comfy-gateway
	$(SWIFT) build -c release --product ledger-bench
	.build/release/ledger-bench 100000

## libFuzzer on the HTTP decoders, the WebSocket decoder and the multipart parser, SECONDS
## seconds each (make fuzz SECONDS=600).
fuzz:
	FUZZ_TARGET=http Tests/Fuzz/run.sh $(SECONDS)
	FUZZ_TARGET=websocket Tests/Fuzz/run.sh $(SECONDS)
	FUZZ_TARGET=multipart Tests/Fuzz/run.sh $(SECONDS)
