#!/usr/bin/env bash
# The project's commands (see README.md):
#   ./run.sh app    start the Streamlit upload app on the shipped model (http://localhost:8501)
#   ./run.sh test   run the whole test suite (notebooks, docs build, app, browser, fuzzing)
#   ./run.sh docs   build the docs site offline into _docs/ (runs every notebook; serve it: python -m http.server -d _docs)
#   ./run.sh lab    start JupyterLab on the project's environment with nbs/ open (http://localhost:8888)
# Each creates .venv on first use (or reuse it) and install requirements.txt plus the package; a second run only
# checks a stamp, so it is cheap. Set FER_EMOTION_VENV to use another environment folder.
set -euo pipefail
cd "$(dirname "$0")"
venv=${FER_EMOTION_VENV:-.venv}
py=$(command -v python3.11 || command -v python3)
want=$(cat requirements.txt setup.py settings.ini | sha256sum | cut -c1-16)
if [ ! -x "$venv/bin/python" ]; then "$py" -m venv "$venv"; fi
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
  echo "Installing dependencies into $venv (first run only)..." >&2
  "$venv/bin/python" -m pip install -q --upgrade pip >&2
  "$venv/bin/python" -m pip install -q -r requirements.txt >&2
  "$venv/bin/python" -m pip install -q --no-deps -e . >&2
  echo "$want" > "$venv/.installed"
fi
case "${1:-}" in
  app)  shift; exec "$venv/bin/streamlit" run streamlit_app/app.py --server.headless true \
          --browser.gatherUsageStats false "$@" ;;
  test) shift; exec "$venv/bin/python" -m pytest tests -ra "$@" ;;
  docs) shift; flags=$("$venv/bin/python" -c "from fer_emotion.core import has_data; print('data' if has_data('fer2013') else '')")
        exec "$venv/bin/python" tools/build_docs.py --flags $flags "$@" ;;
  lab)  shift; lab=$(realpath "$venv/bin/jupyter-lab"); cd nbs          # nbs/ is its root folder
        if [ "$(id -u)" = 0 ]; then set -- --allow-root "$@"; fi       # as in containers and CI
        exec "$lab" "$@" ;;
  *)    echo "usage: ./run.sh app | test [pytest args] | docs [build_docs.py args] | lab [jupyter-lab args]" >&2; exit 2 ;;
esac
