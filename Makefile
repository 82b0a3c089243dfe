# Two commands for a fresh machine: `make run` (the app) and `make test` (the suite).
# Both create .venv in the project root with Python 3.11 when it is missing.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint catalog bench bench-app bench-smoke screenshots clean-venv

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/streamlit run app.py

# Two pytest workers (pytest-xdist), a test file each at a time (module fixtures are built once): one
# process leaves a core idle while a test waits on a server, a browser or a child process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(PY) -m ruff check .

# The Nepali catalog (speakerid/locale/): the words people see extracted from the code (babel.cfg),
# merged into ne/LC_MESSAGES/speakerid.po (new ones empty, never guessed, so they show as untranslated)
# and compiled to the .mo the app and the CLI read (they need only Python's gettext, not Babel).
CATALOG := speakerid/locale
catalog: $(STAMP)
	$(VENV)/bin/pybabel -q extract -F babel.cfg --no-location --sort-output --add-comments TRANSLATORS: \
		--project speakerid --version 0.1.0 -o $(CATALOG)/speakerid.pot .
	$(VENV)/bin/pybabel -q update -i $(CATALOG)/speakerid.pot -d $(CATALOG) -D speakerid -l ne \
		--init-missing --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d $(CATALOG) -D speakerid --statistics

# The README's screenshots (docs/screenshots/), taken by the browser test; plain test runs leave them.
screenshots: $(STAMP)
	SPEAKERID_SCREENSHOTS=1 $(PY) -m pytest -q tests/test_browser.py tests/test_browser_nepali.py

# Accuracy and speed against the reference recipe, an MFCC baseline and Resemblyzer
# (which lives in its own environment, .bench-venv, never in the app's).
bench: $(STAMP)
	bash benchmarks/run.sh

# The app in a real browser: a fresh server's first page against a one-line app, and the Live page's
# pace (needs Chromium). Figures only: the test suite asserts behaviour, never speed.
bench-app: $(STAMP)
	$(PY) benchmarks/app_benchmark.py

# Every benchmark script in its --smoke size (seconds each, synthetic voices): do they still run?
bench-smoke: $(STAMP)
	$(PY) -m pytest -q tests/test_benchmarks_smoke.py

clean-venv:
	rm -rf $(VENV)
