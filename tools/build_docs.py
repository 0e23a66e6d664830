"""Build the documentation site offline: execute every notebook in `nbs/` and render it to HTML with nbconvert.

Quarto (what `nbdev_docs` uses) is not on every machine; users who have it can run `nbdev_docs` with `_quarto.yml`.
This build runs each notebook with execnb (the engine `nbdev_test` uses), honouring the same rules (`#| eval: false`
and test flags skip a cell), then renders it with nbconvert's HTML exporter, plots included, into `_docs/`.

Usage: python tools/build_docs.py [NOTEBOOK ...] [--flags data slow] [--out _docs]

The test suite runs each notebook once this way: its tests pass and its page is written in the same run.
"""
import argparse, warnings
from pathlib import Path
import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor
from execnb.nbio import write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.process import NBProcessor
from nbdev.frontmatter import FrontmatterProc

warnings.filterwarnings('ignore', message='Cell is missing an id field')

def _directives(cell) -> dict: return getattr(cell, 'directives_', {}) or {}

def execute(fn: Path, flags: set) -> nbformat.NotebookNode:
    "Run notebook `fn` as nbdev_test does (skipping `eval: false` cells and unflagged test-flag cells); tag cells to hide."
    skip = set(get_config().tst_flags.split()) - flags
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    def no_eval(cell):
        if cell.cell_type != 'code': return True
        d = _directives(cell)
        return d.get('eval:', [''])[0].lower() == 'false' or bool(skip & d.keys())
    with working_directory(fn.parent): CaptureShell(fn).run_all(nb, exc_stop=True, preproc=no_eval)
    for cell in nb.cells:
        d = _directives(cell)
        if cell.cell_type == 'code' and {'hide', 'default_exp'} & d.keys():
            cell.setdefault('metadata', {})['tags'] = ['remove_cell']
        if cell.cell_type == 'code': cell.source = '\n'.join(l for l in cell.source.splitlines() if not l.startswith('#|'))
    tmp = fn.parent/f'.{fn.stem}.executed.ipynb'
    write_nb(nb, tmp)
    try: return nbformat.read(tmp, as_version=4)
    finally: tmp.unlink()

def all_notebooks() -> list[Path]:
    "Every page of the site: the notebooks in `nbs/`, in reading order."
    nbs = get_config(path=Path(__file__).resolve().parents[1]).nbs_path
    return sorted(p for p in nbs.glob('*.ipynb') if not p.name.startswith(('_', '.')))

def nav_cell(pages: list[Path], current: Path):
    links = ' · '.join(f'**{p.stem}**' if p == current else f'[{p.stem}]({p.stem}.html)' for p in pages)
    return nbformat.v4.new_markdown_cell(f'<small>fer_emotion docs: {links}</small>')

def build(nbs: list[Path], out: Path, flags: set) -> list[Path]:
    "Render `nbs` into `out` as HTML pages with a navigation bar over the whole site; returns the pages written."
    out.mkdir(parents=True, exist_ok=True)
    site = all_notebooks()
    exporter = HTMLExporter(template_name='lab')
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={'remove_cell'}, enabled=True), enabled=True)
    pages = []
    for fn in nbs:
        nb = execute(fn, flags)
        nb.cells.insert(0, nav_cell(site, fn))
        html, _ = exporter.from_notebook_node(nb, resources={'metadata': {'name': fn.stem}})
        page = out/('index.html' if fn.stem == 'index' else f'{fn.stem}.html')
        page.write_text(html, encoding='utf-8'); pages.append(page)
        print(f'rendered {fn.name} -> {page}', flush=True)
    return pages

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*'); ap.add_argument('--flags', nargs='*', default=[])
    ap.add_argument('--out', default='_docs')
    a = ap.parse_args()
    nbs = [Path(n).resolve() for n in a.notebooks] or all_notebooks()
    build(nbs, Path(a.out).resolve(), set(a.flags))
