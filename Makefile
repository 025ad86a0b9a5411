# Two entry points: `make run` (install, load sample_notebooks) and `make test` (install, test).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test system-packages

run:
	pip install -e . && nbsql load sample_notebooks

# Debian's Chromium drives the browser tests; util-linux's setpriv lets a root run test an unreadable file, and its
# unshare gives nbsql run's notebooks a network namespace of their own.
system-packages:
	@if ! command -v chromium >/dev/null || ! command -v setpriv >/dev/null || ! command -v unshare >/dev/null; then \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			--no-install-recommends chromium util-linux fonts-dejavu-core >/dev/null; \
	fi

# ruff and mypy check the code (configured in pyproject.toml), then pytest runs the tests.
test: system-packages
	pip install -e '.[test]' && ruff check nbsql && mypy && pytest
