# Saathi — the README's two commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

help:
	@echo "make run     set up, train if needed, start Rasa (5005), actions (5055); Ctrl-C stops"
	@echo "make test    set up and run every test (pytest, rasa data validate, story tests)"
	@echo "make run-scaled  the same on PostgreSQL, Redis, 2 Rasa + 2 action servers behind nginx"
	@echo "make test-scaled the scaled profile's test (replicas, shared tracker, pushes via nginx)"
	@echo "make loadtest    simulated shoppers (socket + REST, 5 language forms) on the scaled profile"
	@echo "make chaos       kill/restart each part of the scaled profile under load; what shoppers saw"
	@echo "make eval    intent accuracy on the held-out sets; writes the README table"
	@echo "make eval-oos    out-of-scope held-out set on a fresh stack: articles, order flows, handoffs"
	@echo "make bench   latency/throughput/memory/training vs a bare 'rasa init' bot"
	@echo "make kb      rebuild the demo help-centre index (kb_index/demo -> SAATHI_KB_INDEX)"
	@echo "make calibrate  re-tune search weights and answer thresholds on the calibration sets"
	@echo "make setup   create both virtualenvs;  make train  train if data/config changed"

setup:
	@scripts/setup.sh all

train: setup
	@scripts/train.sh

run:
	@scripts/run.sh

run-scaled:
	@scripts/run_scaled.sh

test-scaled:
	@scripts/test_scaled.sh

loadtest:
	@scripts/loadtest.sh

chaos:
	@scripts/chaos.sh

test:
	@scripts/test.sh

eval:
	@scripts/setup.sh all && scripts/eval.sh

kb:
	@scripts/setup.sh app && scripts/kb.sh

calibrate:
	@scripts/setup.sh app && scripts/calibrate.sh

bench:
	@scripts/setup.sh all && bench/run.sh

fuzz:
	@scripts/fuzz.sh

eval-oos:
	@SAATHI_EVAL_COMMAND="make eval-oos" scripts/eval_oos.sh

.PHONY: help setup train run test eval eval-oos bench kb calibrate run-scaled test-scaled loadtest chaos
