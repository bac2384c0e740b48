# Two commands do all the set-up on a fresh machine:
#   make demo   installs everything and answers questions about the bundled example
#   make test   installs everything, lints and type-checks, and runs the test suite with the real models
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
APT_PACKAGES  := espeak-ng sox gcompris-qt-data
TEST_PACKAGES := pocketsphinx-testdata alsa-utils sound-theme-freedesktop chromium chromium-driver

.PHONY: install backends system-deps test-deps models example demo lint test bench heads clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0          # first: the CPU wheel, never the CUDA build
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

backends: $(VENV)/.backends

# The optional backends' libraries. openai-whisper goes in without triton (1 GB, CUDA-only); torchaudio
# (pulled by pyannote.audio and speechbrain) loses its compiled extension, a CUDA build that CPU torch
# cannot load, so it runs as pure Python, a mode its own loader supports.
$(VENV)/.backends: $(VENV)/.installed
	$(PY) -m pip install -q -c constraints.txt -e '.[test,all-backends]'
	$(PY) -m pip install -q -c constraints.txt --no-deps openai-whisper==20250625
	$(PY) -c "import importlib.util as u, pathlib; [p.unlink() for p in (pathlib.Path(u.find_spec('torchaudio').origin).parent / 'lib').glob('_torchaudio*.so')]"
	touch $@

system-deps:
	@bash scripts/apt-install.sh $(APT_PACKAGES)

test-deps: system-deps
	@bash scripts/apt-install.sh $(TEST_PACKAGES)

models: install
	$(VENV)/bin/copilot models fetch

examples/meeting.wav: system-deps scripts/make-example.sh
	bash scripts/make-example.sh $@

example: examples/meeting.wav

demo: install models example
	$(VENV)/bin/copilot ask examples/meeting.wav "How many people speak, and what is the sound behind them?" \
		"What do they plan to do, and when?" --trace

# ruff, then mypy over all of copilot with every backend's library installed (their types count)
lint: backends
	$(PY) -m ruff check .
	PYTHON=$(PY) bash scripts/typecheck.sh

test: install backends test-deps models lint
	$(PY) -m pytest

# The heads shipped in copilot/heads/, retrained from ../shared/data/emotion-train (docs/heads.md); then put the new
# sha256 in copilot/manifest.py's HEADS.
EMOTION_TRAIN ?= ../shared/data/emotion-train
heads: install models
	$(VENV)/bin/copilot learn emotion --data $(EMOTION_TRAIN)/items.jsonl --label emotion --group speaker \
		--where corpus=crema-d --out copilot/heads/emotion.npz --force \
		--notes "Trained on acted English studio speech (CREMA-D, 51 actors); on TV dialogue it is near chance."
	$(VENV)/bin/copilot learn gender --data $(EMOTION_TRAIN)/items.jsonl --label gender --group speaker \
		--where corpus=crema-d --out copilot/heads/gender.npz --force \
		--notes "Trained on acted English studio speech (CREMA-D, 51 actors); the gender tool averages it with the pitch rule."
	rm copilot/heads/emotion.npz.sha256 copilot/heads/gender.npz.sha256

bench: install models example
	$(PY) -m copilot.benchmarks.tool_speed examples/meeting.wav

clean:
	rm -rf $(VENV) examples/*.wav .pytest_cache .mypy_cache .ruff_cache
