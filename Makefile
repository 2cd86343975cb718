# Lore: `make run` sets everything up and runs the main job; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
LORE := $(VENV)/bin/lore
QUESTION ?= How many days in advance must international travel be requested?

.PHONY: run setup install models system-deps sample ask test test-unit bench app serve clean doctor

run: setup sample ask
	@echo "Start the app with: $(LORE) app   (or: make app)"

# install.sh always runs: it returns at once when nothing changed (its stamp covers the pinned files
# and the llama.cpp build this CPU needs), and rebuilds llama.cpp when the checkout meets a new CPU.
setup: models
	$(LORE) doctor

$(VENV)/.lore-installed: install

install:
	bash scripts/install.sh

models: install
	$(LORE) models install

# Debian packages: Tesseract (OCR of scans and images) and LibreOffice headless (legacy .doc/.xls/.ppt,
# RTF, OpenDocument) for ingestion, headless Chromium + driver for the browser test, Dovecot for the IMAP test. Needs root;
# without it each part says what it skips.
OCR_PACKAGES := tesseract-ocr tesseract-ocr-eng
OFFICE_PACKAGES := libreoffice-core libreoffice-writer libreoffice-calc libreoffice-impress
# Dovecot's IMAP server: only the IMAP source's test starts one (throw-away config, loopback).
IMAP_PACKAGES := dovecot-imapd
system-deps:
	@if command -v tesseract >/dev/null && command -v soffice >/dev/null; then echo "tesseract and libreoffice present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(OCR_PACKAGES) $(OFFICE_PACKAGES) >/dev/null) \
	  || echo "could not install tesseract/libreoffice: scanned files and legacy Office files will be reported, not read; OCR and LibreOffice tests will be skipped"; \
	else echo "tesseract/libreoffice not installed (run as root: apt-get install --no-install-recommends $(OCR_PACKAGES) $(OFFICE_PACKAGES)): scanned and legacy Office files will be reported, not read"; fi
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then echo "chromium present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "could not install chromium: browser tests will be skipped"; \
	else echo "chromium not installed (run as root: apt-get install chromium chromium-driver): browser tests will be skipped"; fi
	@if command -v dovecot >/dev/null; then echo "dovecot present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(IMAP_PACKAGES) >/dev/null) \
	  || echo "could not install $(IMAP_PACKAGES): the IMAP source's test will be skipped"; \
	else echo "$(IMAP_PACKAGES) not installed (run as root: apt-get install --no-install-recommends $(IMAP_PACKAGES)): the IMAP source's test will be skipped"; fi

sample: setup
	$(LORE) ingest data/sample --acl-map data/acl.yaml

ask: setup
	$(LORE) ask "$(QUESTION)"

test: setup system-deps
	bash scripts/test.sh

test-unit: $(VENV)/.lore-installed
	$(PY) -m pytest -m unit -q

bench: setup
	$(PY) -m eval.bench.all

app: setup
	$(LORE) app

serve: setup
	$(LORE) serve

doctor: install
	$(LORE) doctor

clean:
	rm -rf $(VENV) .pytest_cache
