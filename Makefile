# One-command entry points. `make book` sets everything up from scratch and builds the site.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# PyTorch first and pinned: pip then takes these wheels instead of resolving a newer torch.
TORCH  ?= torch==2.14.1 torchvision==0.29.1
STAMP  := $(VENV)/.installed
# Debian/Ubuntu packages of the PDF editions (XeLaTeX, xepersian, latexmk; pdftotext for checks).
PDF_DEPS := texlive-xetex texlive-lang-arabic texlive-latex-extra texlive-fonts-recommended latexmk poppler-utils
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install book test pdf pdf-deps browser-deps publish clean distclean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(TORCH)
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)        ## create .venv and install cnnbook with its dependencies

book: install            ## execute stale chapters and build the bilingual site in _build/site
	$(BIN)/cnnbook build

test: install            ## run the test suite
	$(BIN)/pytest -n 2

pdf-deps:                ## install the TeX packages the PDF editions need (Debian/Ubuntu, apt-get)
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(PDF_DEPS)

browser-deps:            ## install Chromium for the browser tests of the site (Debian/Ubuntu, apt-get)
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

pdf: install             ## build the PDF editions in _build/pdf from the executed outputs (needs pdf-deps)
	$(BIN)/cnnbook pdf

publish: install         ## put the built site on the gh-pages branch of origin (REMOTE=..., or FOLDER=...)
	$(BIN)/cnnbook publish $(if $(FOLDER),--folder $(FOLDER),--remote $(or $(REMOTE),origin))

clean:                   ## remove build outputs (keeps the execution cache)
	rm -rf _build/html _build/latex _build/pdf _build/fa _build/site _build/jupyter_execute _build/logs _build/report.json _build/cnnbook-pins.json

distclean:               ## remove every build output, the execution cache and the environment
	rm -rf _build $(VENV)
