# One-command entry points. `make book` sets everything up from scratch and builds the site.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# PyTorch first and pinned: pip then takes these wheels instead of resolving a newer torch.
TORCH  ?= torch==2.14.1 torchvision==0.29.1
STAMP  := $(VENV)/.installed

.PHONY: install book test pdf clean distclean

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

clean:                   ## remove build outputs (keeps the execution cache)
	rm -rf _build/html _build/fa _build/site _build/jupyter_execute

distclean:               ## remove every build output, the execution cache and the environment
	rm -rf _build $(VENV)
