# AdPilot. `make run` and `make test` are the two commands a new user needs.
# Both check for the system libraries first (`make deps`).

SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
APT_PACKAGES := libcurl4-openssl-dev libsystemd-dev libssl-dev zlib1g-dev pkg-config

# Use swift from PATH, else the toolchain's usual home.
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
SWIFT_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# `swift build` keeps .build/debug pointing at the debug build of this machine.
BIN := .build/debug

.PHONY: check-width all deps test-deps build release release-static man deb test test-systemd test-systemd-deb test-interop systemd-unit-test run bench soak policies install clean

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
# policy exporter's numpy parity check): python3 with numpy; and Prometheus' promtool (the
# metrics textfile, the alert rules and their unit tests): Debian's prometheus package; and
# groff (the generated man pages render without a warning): groff-base.
test-deps: deps
	@missing=""; \
	python3 -c 'import numpy' >/dev/null 2>&1 || missing=" python3 python3-numpy"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v groff >/dev/null 2>&1 || missing="$$missing groff-base"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing (for the tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "deps: the tests need python3 with numpy, promtool and groff. Run:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build -j $(SWIFT_JOBS)

release: deps
	$(SWIFT) build -c release -j $(SWIFT_JOBS)

# What `make install` ships: the Swift runtime and Foundation linked in, so the installed
# binaries need only the system's libc, libcurl, libsystemd and libcrypto, not a toolchain.
STATIC_BUILD := .build-static
release-static: deps
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(STATIC_BUILD) -j $(SWIFT_JOBS) --product adpilotd
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(STATIC_BUILD) -j $(SWIFT_JOBS) --product adpilotctl
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(STATIC_BUILD) -j $(SWIFT_JOBS) --product adpilot-man

# adpilotd(8), adpilotctl(1) and adpilot.json(5), and adpilotctl's bash completion, generated
# from the binaries' --help and docs/configuration.md by adpilot-man (never edited by hand).
MAN_DIR := $(STATIC_BUILD)/man
man: release-static
	rm -rf "$(MAN_DIR)" && mkdir -p "$(MAN_DIR)"
	set -o pipefail; R=$(STATIC_BUILD)/release; \
	$$R/adpilotd --help | $$R/adpilot-man help adpilotd 8 > "$(MAN_DIR)/adpilotd.8" && \
	$$R/adpilotctl --help | $$R/adpilot-man help adpilotctl 1 > "$(MAN_DIR)/adpilotctl.1" && \
	$$R/adpilot-man config docs/configuration.md > "$(MAN_DIR)/adpilot.json.5" && \
	$$R/adpilotctl --help | $$R/adpilot-man completion > "$(MAN_DIR)/adpilotctl.bash"

# No Swift source line over 120 columns (docs/testing.md); names each offender.
WIDTH_MAX := 120
check-width:
	@find Sources Tests Package.swift -name '*.swift' -print0 | sort -z | xargs -0 awk -v max=$(WIDTH_MAX) \
	  'length > max { printf "%s:%d: %d columns (at most %d)\n", FILENAME, FNR, length, max; bad = 1 } END { exit bad }' \
	  || { echo "check-width: wrap the lines above"; exit 1; }

# The Swift suites, then the unit under a real systemd when this machine can boot one in a
# namespace (root, unshare, cgroup2, overlayfs, systemd installed); otherwise it says why not.
SYSTEMD_TEST_DIR := .build/systemd-test
SYSTEMD_TEST_UNSUPPORTED := bash -c 'source Tests/systemd/namespace.sh && ns_unsupported'
test: test-deps check-width
	$(SWIFT) build --build-tests -j $(SWIFT_JOBS)
	$(SWIFT) test --skip-build --parallel
	@why=$$($(SYSTEMD_TEST_UNSUPPORTED)); \
	if [ -n "$$why" ]; then \
	  echo "make test: the systemd unit test (make test-systemd) is SKIPPED: $$why"; \
	else \
	  $(MAKE) --no-print-directory systemd-unit-test; \
	fi

# Installs the release build into a staging tree exactly as `make install` lays it out and
# proves systemd/adpilotd.service under systemd as PID 1 of a private namespace
# (Tests/systemd/run). The host's /etc, /usr, /var and units are never written.
test-systemd:
	@why=$$($(SYSTEMD_TEST_UNSUPPORTED)); \
	if [ -n "$$why" ]; then echo "test-systemd: cannot run on this machine: $$why"; exit 1; fi
	@$(MAKE) --no-print-directory systemd-unit-test

systemd-unit-test: release-static
	rm -rf "$(SYSTEMD_TEST_DIR)/stage"
	$(MAKE) --no-print-directory install DESTDIR="$(CURDIR)/$(SYSTEMD_TEST_DIR)/stage" PREFIX=/usr
	Tests/systemd/run "$(SYSTEMD_TEST_DIR)/stage" "$(SYSTEMD_TEST_DIR)/work"

# The daemon on the embedded simulator with the shipped policies, in the foreground, with
# its state under ./.adpilot/ (delete that directory to start over).
RUN_DIR := .adpilot
CTL = $(BIN)/adpilotctl --state-dir $(RUN_DIR)/state --socket $(RUN_DIR)/control.sock
run: build
	@mkdir -p $(RUN_DIR)
	@echo "adpilotd --demo: 20 simulated campaigns, 360 simulated seconds per second (a tick every 1.7 s)."
	@echo "State in $(RUN_DIR)/ (rm -rf $(RUN_DIR) to start over). In another terminal:"
	@echo ""
	@echo "  $(CTL) status"
	@echo "  $(CTL) journal tail -f"
	@echo "  $(CTL) halt --reason 'trying the kill switch'"
	@echo "  $(CTL) resume --reason 'back to shadow'"
	@echo "  $(CTL) journal verify"
	@echo ""
	@echo "Ctrl-C stops the daemon (it journals a clean shutdown)."
	$(BIN)/adpilotd --demo --state-dir $(RUN_DIR)/state --socket $(RUN_DIR)/control.sock

# The bench also runs the seed's Python decision path (Tests/fixtures/seed_decision_path.py)
# beside AdPilot's: python3 with numpy and pydantic.
bench: release test-deps
	@if ! python3 -c 'import pydantic' >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing python3-pydantic (for the seed's decision path in the bench)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pydantic >/dev/null || exit 1; \
	  else \
	    echo "deps: the bench needs python3 with pydantic. Run:"; \
	    echo "  sudo apt-get install -y python3-pydantic"; \
	    exit 1; \
	  fi; \
	fi
	$(SWIFT) run -c release --skip-build adpilot-bench
	@# 100,000 campaigns hold about 3.4 GiB at their peak: only where there is room for it.
	@if [ "$$(awk '/^MemTotal:/ {print $$2}' /proc/meminfo)" -ge 8388608 ]; then \
	  $(SWIFT) run -c release --skip-build adpilot-bench daemon --campaigns 100000; \
	else \
	  echo "bench: the 100,000-campaign daemon run is SKIPPED: it needs 8 GiB of memory"; \
	fi

# SIGKILLs a live demo daemon at random moments KILLS times and checks, after every kill,
# that the journal verifies and that every platform write has an earlier decision asking
# for exactly it (docs/testing.md). Not part of `make test`: 10,000 kills take about an
# hour. SEED=N replays a run.
KILLS ?= 10000
soak: test-deps
	$(SWIFT) build --build-tests -j $(SWIFT_JOBS)
	ADPILOT_SOAK_KILLS=$(KILLS) $(if $(SEED),ADPILOT_SOAK_SEED=$(SEED)) \
	  $(SWIFT) test --skip-build --filter 'SoakTests|WriteAheadLedgerTests'

# Regenerates Policies/qlearn@1 bit for bit from its seed (make test checks it matches).
policies: release
	$(SWIFT) run -c release --skip-build adpilot-train Policies

# Models from elsewhere, proven (outside `make test`: the torch wheels are several GB): a
# virtual environment with the versions below from PyPI, then Tests/interop/interop.py
# trains tiny SB3 DQN and PPO and d3rlpy DiscreteCQL and CQL policies, exports each (SB3
# zip, ONNX) with Policies/export_policy.py, and checks `adpilotctl policy run` against the
# library's own predict on 1,000 observations.
INTEROP_VENV := .build/interop-venv
INTEROP_PACKAGES ?= torch==2.15.0 stable-baselines3==2.9.2 gymnasium==1.0.0 onnx==1.23.2 onnxscript==0.7.2 \
  onnxruntime==1.32.0 d3rlpy==2.8.1
test-interop: build
	@if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null || exit 1; \
	  else \
	    echo "test-interop: needs python3's venv. Run:"; echo "  sudo apt-get install -y python3-venv"; exit 1; \
	  fi; \
	fi
	[ -x "$(INTEROP_VENV)/bin/python" ] || python3 -m venv "$(INTEROP_VENV)"
	"$(INTEROP_VENV)/bin/pip" install -q $(INTEROP_PACKAGES)
	"$(INTEROP_VENV)/bin/python" Tests/interop/interop.py $(BIN)/adpilotctl .build/interop

# Binaries, policies, the docs (the unit's Documentation=), the unit (its ExecStart and the config's policy_dirs follow PREFIX),
# sysusers.d and tmpfiles.d entries, the default config (never overwritten) and a fresh
# journal seal key (never overwritten). Then, as root: systemd-sysusers; systemd-tmpfiles
# --create; systemctl daemon-reload; systemctl enable --now adpilotd.
SYSTEMD_UNIT_DIR ?= /usr/lib/systemd/system
SYSUSERS_DIR ?= /usr/lib/sysusers.d
TMPFILES_DIR ?= /usr/lib/tmpfiles.d
install: man
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 0755 $(STATIC_BUILD)/release/adpilotd $(STATIC_BUILD)/release/adpilotctl "$(DESTDIR)$(PREFIX)/bin/"
	install -d "$(DESTDIR)$(PREFIX)/share/adpilot/policies"
	find Policies -mindepth 1 -maxdepth 1 -type d -exec cp -R {} "$(DESTDIR)$(PREFIX)/share/adpilot/policies/" \;
	install -d "$(DESTDIR)$(SYSTEMD_UNIT_DIR)" "$(DESTDIR)$(SYSUSERS_DIR)" "$(DESTDIR)$(TMPFILES_DIR)"
	install -d "$(DESTDIR)$(PREFIX)/share/doc/adpilot/docs" "$(DESTDIR)$(PREFIX)/share/doc/adpilot/Runbooks"
	install -m 0644 README.md "$(DESTDIR)$(PREFIX)/share/doc/adpilot/"
	install -m 0644 docs/*.md "$(DESTDIR)$(PREFIX)/share/doc/adpilot/docs/"
	install -m 0644 Runbooks/*.md "$(DESTDIR)$(PREFIX)/share/doc/adpilot/Runbooks/"
	install -d "$(DESTDIR)$(PREFIX)/share/man/man1" "$(DESTDIR)$(PREFIX)/share/man/man5" "$(DESTDIR)$(PREFIX)/share/man/man8"
	install -m 0644 "$(MAN_DIR)/adpilotctl.1" "$(DESTDIR)$(PREFIX)/share/man/man1/"
	install -m 0644 "$(MAN_DIR)/adpilot.json.5" "$(DESTDIR)$(PREFIX)/share/man/man5/"
	install -m 0644 "$(MAN_DIR)/adpilotd.8" "$(DESTDIR)$(PREFIX)/share/man/man8/"
	install -d "$(DESTDIR)$(PREFIX)/share/bash-completion/completions"
	install -m 0644 "$(MAN_DIR)/adpilotctl.bash" "$(DESTDIR)$(PREFIX)/share/bash-completion/completions/adpilotctl"
	install -d "$(DESTDIR)$(PREFIX)/share/adpilot/monitoring"
	install -m 0644 docs/monitoring/* "$(DESTDIR)$(PREFIX)/share/adpilot/monitoring/"
	sed -e 's|/usr/bin/adpilotd|$(PREFIX)/bin/adpilotd|' -e 's|/usr/share/doc/adpilot|$(PREFIX)/share/doc/adpilot|' \
	  systemd/adpilotd.service > "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/adpilotd.service"
	install -m 0644 systemd/adpilot.sysusers "$(DESTDIR)$(SYSUSERS_DIR)/adpilot.conf"
	install -m 0644 systemd/adpilot.tmpfiles "$(DESTDIR)$(TMPFILES_DIR)/adpilot.conf"
	install -d -m 0755 "$(DESTDIR)/etc/adpilot"
	install -d -m 0700 "$(DESTDIR)/etc/adpilot/credentials"
	[ -e "$(DESTDIR)/etc/adpilot/adpilot.json" ] || \
	  sed 's|/usr/share/adpilot/policies|$(PREFIX)/share/adpilot/policies|' systemd/adpilot.json > "$(DESTDIR)/etc/adpilot/adpilot.json"
	[ -e "$(DESTDIR)/etc/adpilot/credentials/journal-key" ] || \
	  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$(DESTDIR)/etc/adpilot/credentials/journal-key")

# A Debian package from the same tree `make install PREFIX=/usr` lays out: binaries,
# policies, unit, sysusers.d, tmpfiles.d, /etc/adpilot/adpilot.json as a conffile, man pages,
# completion, monitoring files; maintainer scripts from systemd/debian (sysusers, tmpfiles,
# a journal key made on the host; the service is never started or enabled). Depends are the
# packages owning the shared libraries the binaries name (NEEDED), found with ldd and dpkg -S.
DEB_DIR := $(STATIC_BUILD)/deb
DEB_MAINTAINER ?= AdPilot <root@localhost>
VERSION := $(shell sed -n 's/.*static let string = "\(.*\)"/\1/p' Sources/AdPilotCore/Support/Version.swift)
deb: man
	rm -rf "$(DEB_DIR)"
	$(MAKE) --no-print-directory install DESTDIR="$(CURDIR)/$(DEB_DIR)/root" PREFIX=/usr
	rm -f "$(DEB_DIR)/root/etc/adpilot/credentials/journal-key"
	strip --strip-unneeded "$(DEB_DIR)/root/usr/bin/adpilotd" "$(DEB_DIR)/root/usr/bin/adpilotctl"
	gzip -9n "$(DEB_DIR)"/root/usr/share/man/man*/*
	install -d -m 0755 "$(DEB_DIR)/root/DEBIAN"
	install -m 0755 systemd/debian/postinst systemd/debian/prerm systemd/debian/postrm "$(DEB_DIR)/root/DEBIAN/"
	echo /etc/adpilot/adpilot.json > "$(DEB_DIR)/root/DEBIAN/conffiles"
	set -o pipefail; \
	bins="$(STATIC_BUILD)/release/adpilotd $(STATIC_BUILD)/release/adpilotctl"; \
	depends=$$(for lib in $$(objdump -p $$bins | awk '/NEEDED/{print $$2}' | sort -u); do \
	    ldd $$bins | awk -v l="$$lib" '$$1 == l && $$3 ~ /^\// {print $$3; exit}'; done | \
	  while read -r lib; do dpkg -S "$$lib" 2>/dev/null || dpkg -S "$$(readlink -f "$$lib")" 2>/dev/null || dpkg -S "/usr$$lib"; done | \
	  cut -d: -f1 | sort -u | paste -sd, - | sed 's/,/, /g') && \
	arch=$$(dpkg --print-architecture) && size=$$(du -sk --exclude=DEBIAN "$(DEB_DIR)/root" | cut -f1) && \
	sed -e "s/@VERSION@/$(VERSION)/" -e "s/@ARCH@/$$arch/" -e "s/@DEPENDS@/$$depends/" -e "s/@SIZE@/$$size/" \
	  -e "s/@MAINTAINER@/$(DEB_MAINTAINER)/" systemd/debian/control.in > "$(DEB_DIR)/root/DEBIAN/control" && \
	dpkg-deb --root-owner-group -Zxz --build "$(DEB_DIR)/root" "$(DEB_DIR)/adpilot_$(VERSION)_$$arch.deb" && \
	echo "deb: $(DEB_DIR)/adpilot_$(VERSION)_$$arch.deb (Depends: $$depends)"

# The unit test under systemd (test-systemd), against the Debian package: its files as dpkg
# unpacks them and its own postinst in place of sysusers and tmpfiles.
test-systemd-deb: deb
	@why=$$($(SYSTEMD_TEST_UNSUPPORTED)); \
	if [ -n "$$why" ]; then echo "test-systemd-deb: cannot run on this machine: $$why"; exit 1; fi
	rm -rf "$(SYSTEMD_TEST_DIR)/deb-stage" && mkdir -p "$(SYSTEMD_TEST_DIR)"
	dpkg-deb -R $(DEB_DIR)/adpilot_$(VERSION)_*.deb "$(SYSTEMD_TEST_DIR)/deb-stage"
	Tests/systemd/run "$(SYSTEMD_TEST_DIR)/deb-stage" "$(SYSTEMD_TEST_DIR)/work"

clean:
	rm -rf .build $(STATIC_BUILD)
