# make demo  – set everything up and run the main job on the local stack
# make test  – set everything up and run the whole test suite
# Both are idempotent: each step is skipped when its result is already there.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JARS := .cache/jars
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup test demo jars os-deps stack-up stack-down airflow bench clean

setup: os-deps $(VENV)/.installed $(JARS)/.fetched

# OS packages: a JDK and Maven for the JVM services, redis-server for the serving store,
# Chromium and its driver for the dashboard's browser test, a C compiler for the validator's fast
# path, MIT Kerberos (a KDC for the Kerberized HDFS the tests start, and the headers the Python
# GSSAPI binding builds against).
os-deps:
	@missing=""; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v krb5-config >/dev/null || missing="$$missing libkrb5-dev"; \
	[ -x /usr/sbin/krb5kdc ] || missing="$$missing krb5-kdc"; \
	[ -x /usr/sbin/kadmin.local ] || missing="$$missing krb5-admin-server"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing OS packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# The Python packages at the versions the images install (docker/constraints.txt), so that what the
# tests ran with is what is deployed.
$(VENV)/.installed: pyproject.toml setup.py viewcount/_eventscan.c docker/constraints.txt
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -c docker/constraints.txt -e '.[dev]'
	@touch $@

# The Kafka broker and HDFS daemons, as jars from Maven Central (see docker/jvm/*/pom.xml).
jars: $(JARS)/.fetched
$(JARS)/.fetched: docker/jvm/kafka/pom.xml docker/jvm/hadoop/pom.xml
	@for c in kafka hadoop; do \
	  rm -rf $(JARS)/$$c; \
	  echo "fetching $$c jars with mvn"; \
	  mvn -q -B -f docker/jvm/$$c/pom.xml dependency:copy-dependencies \
	    -DoutputDirectory=$(CURDIR)/$(JARS)/$$c -DincludeScope=runtime || exit 1; \
	done
	@touch $@

test: setup
	$(BIN)/pytest

demo: setup
	$(BIN)/viewcount demo $(DEMO_ARGS)

stack-up: setup
	$(BIN)/viewcount stack up --hdfs

stack-down:
	@[ -x $(BIN)/viewcount ] && $(BIN)/viewcount stack down || true

# Airflow with the project's DAGs: UI and API on http://127.0.0.1:8081 (8080 is the view API);
# state, logs and the SQLite metadata DB under .viewcount/airflow. The login is printed at start.
AIRFLOW_ENV := AIRFLOW_HOME=$(CURDIR)/.viewcount/airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__API__PORT=8081 PATH=$(CURDIR)/$(BIN):$$PATH
airflow: setup
	$(AIRFLOW_ENV) $(BIN)/airflow standalone

# Every benchmark, with its extra (DuckDB for the batch comparison); figures in bench/results/.
bench: setup
	$(BIN)/pip install -q -c docker/constraints.txt -e '.[dev,bench]'
	for b in produce ingest speed cluster state recovery batch batch_hourly publish serve memory collect ledger; do $(BIN)/python bench/$$b.py || exit 1; done

clean: stack-down
	rm -rf .viewcount $(JARS) test-artifacts
