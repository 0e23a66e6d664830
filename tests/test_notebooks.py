"""The notebooks are the source of truth: stored clean, in sync with the package, all running, and processed into
the docs site's pages. Each check fails the suite when broken."""
import filecmp, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT, build_docs, notebooks, processed_pages

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

def test_every_notebook_opens_in_colab():
    "Each notebook's second cell, under its title, is the link that opens it in Colab from the repository in `settings.ini`."
    import json
    from configparser import ConfigParser
    cfg = ConfigParser(); cfg.read(ROOT/'settings.ini'); c = cfg['DEFAULT']
    for nb in notebooks():
        url = f"https://colab.research.google.com/github/{c['user']}/{c['repo']}/blob/{c['branch']}/nbs/{nb.name}"
        second = ''.join(json.loads(nb.read_text())['cells'][1]['source'])
        assert second == f'<a class="colab-link" href="{url}">Open in Colab</a>', (nb.name, second)

def test_package_in_sync_with_notebooks(tmp_path):
    "`nbdev_export` on a copy changes nothing: the package is exactly what the notebooks export."
    stale = changes_made_by('nbdev_export', 'fer_emotion', '*.py', tmp_path)
    assert not stale, f'package out of sync with notebooks (run nbdev_export): {stale}'

@pytest.mark.parametrize('nb', notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(nb, processed):
    """The notebook runs with execnb as `nbdev_test` runs it (every cell, its tests included, except full-scale work
    marked `eval: false` and cells of absent test flags), in the same pass that processes it into its docs page
    (`tools/build_docs.py`; `test_site.py` renders the site from these)."""
    r = build_docs(nb, '--proc', processed)
    assert r.returncode == 0 and nb.name in processed_pages(processed), (r.stdout + r.stderr)[-6000:]
