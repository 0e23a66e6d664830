"""The notebooks are the source of truth: stored clean, in sync with the package, all running, and rendering into
the docs site. Each check fails the suite when broken."""
import filecmp, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT, NB_FLAGS, notebooks

BIN = Path(sys.executable).parent

def run(cmd, cwd, timeout=600):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)

def copy_project(tmp: Path) -> Path:
    "A copy of what nbdev reads and writes: settings, notebooks and the package."
    dst = tmp/'proj'; dst.mkdir()
    for name in ('settings.ini', 'setup.py', 'requirements.txt', 'README.md'): shutil.copy(ROOT/name, dst/name)
    shutil.copytree(ROOT/'nbs', dst/'nbs', symlinks=True)
    shutil.copytree(ROOT/'fer_emotion', dst/'fer_emotion', ignore=shutil.ignore_patterns('__pycache__'))
    return dst

def changes_made_by(tool: str, folder: str, pattern: str, tmp: Path) -> list[str]:
    "Files under `folder` matching `pattern` that nbdev `tool`, run on a copy of the project, adds or changes."
    proj = copy_project(tmp)
    r = run([BIN/tool], proj)
    assert r.returncode == 0, r.stderr
    before, after = sorted((ROOT/folder).glob(pattern)), sorted((proj/folder).glob(pattern))
    changed = [p.name for p in before if not filecmp.cmp(p, proj/folder/p.name, shallow=False)]
    return changed + sorted({p.name for p in after} - {p.name for p in before})

def test_notebooks_are_clean(tmp_path):
    "`nbdev_clean` on a copy changes nothing: no outputs, execution counts or stray metadata are committed."
    dirty = changes_made_by('nbdev_clean', 'nbs', '*.ipynb', tmp_path)
    assert not dirty, f'notebooks not clean (run nbdev_clean): {dirty}'

def test_package_in_sync_with_notebooks(tmp_path):
    "`nbdev_export` on a copy changes nothing: the package is exactly what the notebooks export."
    stale = changes_made_by('nbdev_export', 'fer_emotion', '*.py', tmp_path)
    assert not stale, f'package out of sync with notebooks (run nbdev_export): {stale}'

@pytest.fixture(scope='session')
def docs(tmp_path_factory) -> Path: return tmp_path_factory.mktemp('site')/'_docs'

def page(nb: Path) -> str: return 'index.html' if nb.stem == 'index' else f'{nb.stem}.html'

def render(nbs: list[Path], out: Path) -> subprocess.CompletedProcess:
    "Execute `nbs` as `nbdev_test` does and render them into `out` (`tools/build_docs.py`): each notebook runs once."
    cmd = [sys.executable, ROOT/'tools'/'build_docs.py', *map(str, nbs), '--out', str(out)]
    return run(cmd + (['--flags', *NB_FLAGS] if NB_FLAGS else []), ROOT, timeout=1800)

@pytest.mark.parametrize('nb', notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(nb, docs):
    """The notebook runs with execnb as `nbdev_test` runs it (every cell, its tests included, except full-scale work
    marked `eval: false` and cells of absent test flags), and renders into its docs page."""
    r = render([nb], docs)
    assert r.returncode == 0 and (docs/page(nb)).is_file(), (r.stdout + r.stderr)[-6000:]

def test_docs_site_builds(docs):
    "The docs build offline: every notebook becomes an HTML page, with the notebooks' plots embedded."
    missing = [nb for nb in notebooks() if not (docs/page(nb)).is_file()]   # when run alone
    if missing: r = render(missing, docs); assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    pages = {p.stem for p in docs.glob('*.html')}
    assert pages == {page(nb)[:-5] for nb in notebooks()}
    images = {p: (docs/f'{p}.html').read_text().count('data:image/png') for p in pages}
    if NB_FLAGS: assert images['03_explore'] >= images['00_core'] + 4, f'plots missing from the explore page: {images}'
    assert images['05_train'] >= images['00_core'] + 1, f'plots missing from the train page: {images}'
    assert 'href="02_data.html"' in (docs/'index.html').read_text() and 'href="15_model_card.html"' in (docs/'02_data.html').read_text()
    shutil.rmtree(ROOT/'_docs', ignore_errors=True); shutil.copytree(docs, ROOT/'_docs')
