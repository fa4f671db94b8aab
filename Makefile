# Two commands: `make run` (demo hub on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test demo-after lint messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py run_demo

demo-after: $(STAMP)
	$(BIN)/python manage.py import_ical --class "$${CLASS:-BUT1 RT 1C}" "$${AFTER:-../shared/data/ical/flopedt_iut-blagnac_RT-BUT1-1C_2025-12-15T0629Z_after.ics}"

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

messages: $(STAMP)
	cd frontend && ../$(BIN)/python ../manage.py compilemessages

clean:
	rm -rf $(VENV) var
