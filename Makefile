# Two commands: `make run` (demo hub on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# axe-core for the accessibility checks (tests/browser/test_accessibility.py).
AXE := tests/browser/axe/node_modules/axe-core/axe.min.js

.PHONY: run test demo-after demo-code lint lock typecheck messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[demo,test]'
	touch $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py run_demo

demo-after: $(STAMP)
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py demo_after

demo-code: $(STAMP)
	@DEBUG=$${DEBUG:-1} $(BIN)/python manage.py demo_code

$(AXE): tests/browser/axe/package.json tests/browser/axe/package-lock.json
	npm ci --prefix tests/browser/axe --no-audit --no-fund --silent
	touch $(AXE)

test: $(STAMP) $(AXE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# requirements.lock: the runtime dependencies the image installs, each pinned
# with its hashes, resolved from pyproject.toml for the image's Python (3.11)
# on Linux. After changing `dependencies`: `make lock` (keeps the other pins);
# to take every newer version the bounds admit: `make lock UV_ARGS=--upgrade`.
# tests/test_packaging.py checks the lock against pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet 'uv>=0.13,<0.14'
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11.7 --python-platform linux --quiet $(UV_ARGS) -o requirements.lock
# mypy + django-stubs on core/ and hub/ ([tool.mypy] in pyproject.toml);
# incremental through .mypy_cache.
typecheck: $(STAMP)
	$(BIN)/mypy

# Apps that keep their own catalogue (core/<app>/locale); the rest goes to frontend's.
APP_LOCALES := core/messaging core/accounts core/timetable core/privacy core/twofactor core/homework core/documents core/schoollife core/grades core/reportcards core/agenda core/api

# Translations: the .po files are the source; `make messages` extracts new
# strings into them (fill the empty msgstr) and compiles the .mo files.
messages: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py makemessages -l fr --no-wrap --ignore=.venv --ignore=var --ignore=tests $(foreach app,$(APP_LOCALES),--ignore=$(app))
	DEBUG=1 $(BIN)/python manage.py makemessages -d djangojs -l fr --no-wrap --ignore=.venv --ignore=var --ignore=tests
	for app in $(APP_LOCALES); do (cd $$app && DEBUG=1 $(CURDIR)/$(BIN)/python $(CURDIR)/manage.py makemessages -l fr --no-wrap) || exit 1; done
	DEBUG=1 $(BIN)/python manage.py compilemessages --ignore=.venv --ignore=var

clean:
	rm -rf $(VENV) var
