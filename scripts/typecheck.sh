#!/usr/bin/env bash
# mypy over the package as it is imported, and over the studies in experiments/ that import it. copilot.tools,
# copilot.planners and copilot.benchmarks live in tools/, planners/ and benchmarks/ (pyproject's package-dir), a
# mapping mypy cannot follow, so it checks a tree of links laid out as `import copilot...` sees the code, and
# reports the repository's own paths.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$(command -v "${PYTHON:-$root/.venv/bin/python}")"
[[ $python == /* ]] || python="$PWD/$python"  # the check runs from another folder
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
cp -rs "$root/copilot" "$tree/copilot"
for sub in tools planners benchmarks; do ln -s "$root/$sub" "$tree/copilot/$sub"; done
ln -s "$root/experiments" "$tree/experiments"  # the studies: scripts outside the package, checked beside it
cd "$tree"
MYPY_CACHE_DIR="$root/.mypy_cache" "$python" -m mypy --config-file "$root/pyproject.toml" copilot experiments \
  | sed -E 's#^copilot/(tools|planners|benchmarks)/#\1/#'
