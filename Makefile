# AdPilot. `make run` and `make test` are the two commands a new user needs.
# Both check for the system libraries first (`make deps`).

SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
APT_PACKAGES := libcurl4-openssl-dev libsystemd-dev libssl-dev pkg-config

# Use swift from PATH, else the toolchain's usual home.
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
SWIFT_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps test-deps build release test run bench policies install clean

all: build

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "deps: missing system packages. Run:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi; \
	if ! [ -x "$(SWIFT)" ]; then \
	  echo "deps: no Swift toolchain found (looked on PATH and in /opt/swift). Install Swift 6 and retry."; \
	  exit 1; \
	fi

# The test suite also runs two Python fixtures (an independent journal verifier and the
# policy exporter's numpy parity check): python3 with numpy.
test-deps: deps
	@if ! python3 -c 'import numpy' >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing python3 python3-numpy (for the test fixtures)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-numpy >/dev/null || exit 1; \
	  else \
	    echo "deps: the tests need python3 with numpy. Run:"; \
	    echo "  sudo apt-get install -y python3 python3-numpy"; \
	    exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build -j $(SWIFT_JOBS)

release: deps
	$(SWIFT) build -c release -j $(SWIFT_JOBS)

test: test-deps
	$(SWIFT) build --build-tests -j $(SWIFT_JOBS)
	$(SWIFT) test --skip-build --parallel

run: deps
	@echo "make run: the daemon runtime (adpilotd --demo) is not built yet; see README.md, 'Status'."
	@echo "What works today: make test, make bench, make policies,"
	@echo "adpilotctl journal tail|show|verify and policy list|inspect|verify."
	@exit 1

bench: release
	$(SWIFT) run -c release --skip-build adpilot-bench

# Regenerates Policies/qlearn@1 bit for bit from its seed (make test checks it matches).
policies: release
	$(SWIFT) run -c release --skip-build adpilot-train Policies

install: release
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 0755 .build/release/adpilotd .build/release/adpilotctl "$(DESTDIR)$(PREFIX)/bin/"
	install -d "$(DESTDIR)$(PREFIX)/share/adpilot/policies"
	find Policies -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec cp -R {} "$(DESTDIR)$(PREFIX)/share/adpilot/policies/" \;

clean:
	rm -rf .build
