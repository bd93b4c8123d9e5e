# Postroom: `make run` launches the app, `make test` runs the whole suite. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint typecheck contracts pytest bench bundle clean install-desktop screenshot

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/postroom

install-desktop: $(STAMP_RUN)
	$(BIN)/postroom install-desktop

lint: $(STAMP_TEST)
	$(BIN)/ruff check app tests bench tools

contracts: $(STAMP_TEST)
	$(BIN)/lint-imports

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

pytest: $(STAMP_TEST)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m "not webengine" tests
	@if grep -rqs "pytest.mark.webengine" tests; then \
		QT_QPA_PLATFORM=offscreen QTWEBENGINE_DISABLE_SANDBOX=1 $(BIN)/python -m pytest -m webengine tests; \
	fi

test: lint contracts typecheck pytest

bench: $(STAMP_TEST)
	$(BIN)/python bench/startup.py

bundle: $(STAMP_RUN)
	$(BIN)/python -m pip install --quiet -e '.[bundle]'
	$(BIN)/pyinstaller --noconfirm --clean packaging/postroom.spec

screenshot: $(STAMP_TEST)
	xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb $(BIN)/python tools/screenshot.py

clean:
	rm -rf build dist .mypy_cache .ruff_cache
