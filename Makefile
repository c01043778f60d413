# Arbiter Desk — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app

.PHONY: run test lint setup test-setup translations messages migrate clean

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
	$(VENV)/bin/pybabel -q compile -d translations

## make messages: extract every translatable string to translations/messages.pot and merge it
## into the Chinese catalogue; then translate the new or fuzzy entries in
## translations/zh/LC_MESSAGES/messages.po (tests/test_i18n.py fails until they are).
BABEL_KEYWORDS := -k _l -k lazy_gettext -k _n:1,2 -k lazy_ngettext:1,2 -k _gettext -k _ngettext:1,2
messages: $(VENV)/.installed
	$(VENV)/bin/pybabel -q extract -F babel.cfg $(BABEL_KEYWORDS) --add-location=file --sort-output \
		-c TRANSLATORS: --project "Arbiter Desk" -o translations/messages.pot .
	$(VENV)/bin/pybabel -q update -i translations/messages.pot -d translations -l zh \
		--init-missing --ignore-obsolete

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

## make lint: the three floors' import contracts (import-linter) and ruff (incl. no late imports)
lint: test-setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache
