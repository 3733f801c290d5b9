# Two commands: `make run` serves the app on a demo store; `make test` runs the whole suite.
# Both set everything up first (virtual environment, pinned packages, Chromium for tests).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
DB     ?= $(or $(COMPLIANCE_DB),data/compliance.duckdb)
HOST   ?= 127.0.0.1
PORT   ?= 8501
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The translation catalogs (locale/*/LC_MESSAGES/*.po, in git) compiled to .mo (not in git).
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))

.PHONY: setup run test test-fast bench demo-store chromium clean

setup: $(VENV)/.installed $(MO_FILES)

$(VENV)/.installed: requirements.txt constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

$(MO_FILES): %.mo: %.po $(VENV)/.installed
	$(PY) -m dashboard.i18n compile

# The demo store is created only when no store exists at $(DB): real data is never overwritten.
demo-store: setup
	@if [ ! -f "$(DB)" ]; then \
	  $(PY) -m dashboard --db "$(DB)" init && \
	  $(PY) -m dashboard --db "$(DB)" seed --scale demo && \
	  $(PY) -m dashboard --db "$(DB)" user demo-accounts; \
	else \
	  $(PY) -m dashboard --db "$(DB)" init; \
	fi

# server.py serves dashboard/app.py (pages in pages/) plus the streamed CSV download route (dashboard/stream.py).
# It listens on 127.0.0.1 unless told otherwise: `make run HOST=0.0.0.0` (behind a TLS proxy).
run: demo-store
	@echo "Serving on http://$(HOST):$(PORT)"
	COMPLIANCE_DB="$(DB)" $(PY) -m streamlit run server.py --server.address $(HOST) --server.port $(PORT)

# Browser tests drive Debian's Chromium (Playwright cannot download browsers here);
# a CJK font so the Chinese names in screenshots render as text, not boxes.
chromium:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "wenquanyi"; } || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium fonts-wqy-zenhei; }

test: setup chromium
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not browser and not slow"

bench: setup chromium
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache bench/out tests/artifacts
