# arb — `make help` lists the targets. Every target sets up .venv on its own first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
SHARED := ../shared/data
OUT := build

.DEFAULT_GOAL := help
.PHONY: help venv replay replay-linkusdt replay-triangular replay-basis test lint fmt bench verify-shared clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "arb needs Python 3.11+, found " + sys.version.split()[0] + " (set PYTHON=...)")'
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP) ## create .venv and install arb with its dev tools

replay: $(STAMP) ## the main job: trade the synthetic market (written if missing) -> build/replay-synth/report.md
	$(BIN)/arb check-config configs/replay-synth.toml
	@[ -f $(OUT)/synth/manifest.json ] || { rm -rf $(OUT)/synth && $(BIN)/arb synth --config configs/replay-synth.toml --out $(OUT)/synth; }
	$(BIN)/arb verify $(OUT)/synth
	$(BIN)/arb replay configs/replay-synth.toml --data $(OUT)/synth --out $(OUT)/replay-synth

replay-linkusdt: $(STAMP) ## Binance vs Huobi LINK/USDT (../shared/data) -> build/replay-linkusdt/report.md
	@[ -d $(SHARED)/binance-huobi-linkusdt-20210820 ] || { echo "no $(SHARED)/binance-huobi-linkusdt-20210820: recorded data is not here"; exit 1; }
	$(BIN)/arb check-config configs/replay-linkusdt.toml
	rm -rf $(OUT)/linkusdt
	$(BIN)/arb import --format topn-csv --out $(OUT)/linkusdt $(SHARED)/binance-huobi-linkusdt-20210820/orderbook_bnc.csv $(SHARED)/binance-huobi-linkusdt-20210820/orderbook_hb.csv
	$(BIN)/arb replay configs/replay-linkusdt.toml --data $(OUT)/linkusdt --out $(OUT)/replay-linkusdt

replay-triangular: $(STAMP) ## triangular arbitrage on a synthetic OKX triangle -> build/replay-triangular/report.md
	$(BIN)/arb check-config configs/replay-triangular.toml
	@[ -f $(OUT)/synth-triangular/manifest.json ] || { rm -rf $(OUT)/synth-triangular && $(BIN)/arb synth --config configs/replay-triangular.toml --out $(OUT)/synth-triangular; }
	$(BIN)/arb verify $(OUT)/synth-triangular
	$(BIN)/arb replay configs/replay-triangular.toml --data $(OUT)/synth-triangular --out $(OUT)/replay-triangular

BASIS_DATA := $(SHARED)/binance-btc-spot-usdm-coinm-20240808
replay-basis: $(STAMP) ## basis: Binance BTC spot vs USD-M and COIN-M perps (../shared/data) -> build/replay-basis/report.md
	@[ -d $(BASIS_DATA) ] || { echo "no $(BASIS_DATA): recorded data is not here"; exit 1; }
	$(BIN)/arb check-config configs/replay-basis.toml
	rm -rf $(OUT)/basis
	$(BIN)/arb import --format hftbacktest --out $(OUT)/basis/spot $(BASIS_DATA)/spot/btcusdt_20240808.gz $(BASIS_DATA)/spot/btcusdt_20240809.gz
	$(BIN)/arb import --format hftbacktest --out $(OUT)/basis/usdm $(BASIS_DATA)/usdm/btcusdt_20240808.gz
	$(BIN)/arb import --format hftbacktest --out $(OUT)/basis/coinm $(BASIS_DATA)/cm/btcusd_perp_20240808.gz $(BASIS_DATA)/cm/btcusd_perp_20240809.gz
	$(BIN)/arb replay configs/replay-basis.toml --data $(OUT)/basis/spot --data $(OUT)/basis/usdm --data $(OUT)/basis/coinm --out $(OUT)/replay-basis

test: $(STAMP) ## run the whole test suite
	$(BIN)/python -m pytest -q

lint: $(STAMP) ## ruff (format check + lint) and mypy strict; never fixes
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy arb venues tests bench

fmt: $(STAMP) ## format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## benchmarks: pytest-benchmark, then the side-by-side run against ccxt's OrderBook
	$(BIN)/python -m pytest bench -q -m bench --benchmark-enable -p no:cacheprovider
	$(BIN)/python -m bench.compare_ccxt
	$(BIN)/python -m bench.compare_pipeline
	$(BIN)/python -m bench.replay_throughput

verify-shared: $(STAMP) ## import and verify the recorded markets in ../shared/data
	@[ -d $(SHARED) ] || { echo "no $(SHARED): recorded data is not here"; exit 1; }
	rm -rf $(OUT)/shared
	$(BIN)/arb import --format cryptofeed --out $(OUT)/shared/okx $(SHARED)/okx-20220513/OKX.ws.1.0 $(SHARED)/okx-20220513/OKX.0
	$(BIN)/arb verify $(OUT)/shared/okx
	$(BIN)/arb import --format hftbacktest --out $(OUT)/shared/binance-spot $(SHARED)/binance-btc-spot-usdm-coinm-20240808/spot/btcusdt_20240808.gz $(SHARED)/binance-btc-spot-usdm-coinm-20240808/spot/btcusdt_20240809.gz
	$(BIN)/arb verify $(OUT)/shared/binance-spot
	$(BIN)/arb import --format hftbacktest --out $(OUT)/shared/binance-usdm $(SHARED)/binance-btc-spot-usdm-coinm-20240808/usdm/btcusdt_20240808.gz
	$(BIN)/arb verify $(OUT)/shared/binance-usdm
	$(BIN)/arb import --format hftbacktest --out $(OUT)/shared/binance-coinm $(SHARED)/binance-btc-spot-usdm-coinm-20240808/cm/btcusd_perp_20240808.gz $(SHARED)/binance-btc-spot-usdm-coinm-20240808/cm/btcusd_perp_20240809.gz
	$(BIN)/arb verify $(OUT)/shared/binance-coinm
	$(BIN)/arb import --format topn-csv --out $(OUT)/shared/linkusdt $(SHARED)/binance-huobi-linkusdt-20210820/orderbook_bnc.csv $(SHARED)/binance-huobi-linkusdt-20210820/orderbook_hb.csv
	$(BIN)/arb verify $(OUT)/shared/linkusdt

clean: ## remove build outputs (keeps .venv)
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
