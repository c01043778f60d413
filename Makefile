# Arbiter Desk — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app

.PHONY: run test setup test-setup translations migrate clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

setup: $(VENV)/.installed translations

test-setup: $(VENV)/.test-installed translations

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -q -d translations

migrate: setup
	$(FLASK) desk migrate

## make run: set up, migrate, seed the demo once, print the logins and serve on :5000
run: migrate
	$(FLASK) desk seed-demo --if-empty
	$(FLASK) desk show-logins
	@echo "Open http://127.0.0.1:5000 and log in with one of the accounts above."
	$(PY) app.py

## make test: set up with test extras and run the whole suite
test: test-setup
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
