"""Build the documentation site offline: nbdev processes and runs every notebook, MkDocs (Material theme) renders them.

Quarto, which `nbdev_docs` uses, is not on every machine (users who have it can still run `nbdev_docs` with
`nbs/_quarto.yml`). This build does the same work with what installs from the package index:

1. **process** each notebook with nbdev's own processors (front matter into the title, `show_doc` entries with the
   signature and parameter table for every exported function and class, directives and hidden cells removed, links
   to the API) and run it, in one pass, as `nbdev_test` runs it (`eval: false` cells and cells of absent test flags
   are skipped): the notebook's tests pass and its outputs, plots included, are captured in the same run;
2. **render** the processed notebooks with MkDocs, Material and mkdocs-jupyter into a static site: a sidebar in
   reading order, client-side search, no prompts, nothing fetched from the network.

Outputs are made fit to publish: warnings written to stderr go to the build's log instead of the pages, and the
machine's paths (the project, the data, the home and temporary folders) are replaced by names that mean something
to a reader.

Usage:
    python tools/build_docs.py [--flags data slow]     process every notebook, then render the site into _docs/
    python tools/build_docs.py NB.ipynb ... [--flags]  process these notebooks only (into --proc)
    python tools/build_docs.py --render                render the site from the notebooks already in --proc
"""
import argparse, html, inspect, json, os, re, shutil, sys, tempfile, warnings
from functools import partial
from pathlib import Path
import yaml
from execnb.nbio import read_nb, write_nb, mk_cell
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.process import NBProcessor, Processor
from nbdev.frontmatter import FrontmatterProc
from nbdev.showdoc import BasicMarkdownRenderer, show_doc
from fastcore.docments import docments
from nbdev.processors import (populate_language, add_show_docs, strip_ansi, hide_line, filter_stream_, rm_header_dash,
                              clean_show_doc, rm_export, clean_magics, hide_, add_links, strip_hidden_metadata)

ROOT = Path(__file__).resolve().parents[1]
warnings.filterwarnings('ignore', message='Cell is missing an id field')

def config(): return get_config(path=ROOT)

def all_notebooks() -> list[Path]:
    "Every page of the site: the notebooks in `nbs/`, in reading order."
    return sorted((p for p in config().nbs_path.glob('*.ipynb') if not p.name.startswith(('_', '.'))),
                  key=lambda p: (p.stem != 'index', p.name))

def _code(o) -> str: return '' if o is inspect.Parameter.empty else f'<code>{html.escape(str(o)).replace("|", "&#124;")}</code>'
def _anno(a) -> str: return a if isinstance(a, str) else inspect.formatannotation(a)

class SignatureAndTable(BasicMarkdownRenderer):
    "nbdev's `show_doc` entry (source link, name, signature, docstring) with a table of its parameters always shown."
    def _repr_markdown_(self):
        md = super()._repr_markdown_()
        try: params = [p for p in inspect.signature(self.sym).parameters.values() if p.name != 'self']
        except (TypeError, ValueError): return md
        if not params: return md
        docs = docments(self.sym)
        cols = ['parameter', 'type', 'default'] + (['details'] if any(docs.get(p.name) for p in params) else [])
        rows = [[_code(p.name), _code(_anno(p.annotation) if p.annotation is not p.empty else p.empty),
                 _code(repr(p.default) if p.default is not p.empty else p.empty), docs.get(p.name) or ''][:len(cols)]
                for p in params]
        return md + '\n\n' + '\n'.join('| ' + ' | '.join(r) + ' |' for r in [cols, ['---'] * len(cols), *rows])

class Execute(Processor):
    "Run the notebook as `nbdev_test` does, with `show_doc` at hand for the entries `add_show_docs` inserted."
    def __init__(self, nb, flags: set):
        super().__init__(nb)
        self.skip = set(config().tst_flags.split()) - set(flags)

    def no_eval(self, cell) -> bool:
        if cell.cell_type != 'code': return True
        d = getattr(cell, 'directives_', {}) or {}
        return d.get('eval:', [''])[0].lower() == 'false' or bool(self.skip & d.keys())

    def begin(self):
        path = Path(self.nb.path_)
        os.environ['IN_TEST'] = '1'
        shell = CaptureShell(path)
        shell.user_ns['show_doc'] = partial(show_doc, renderer=SignatureAndTable)
        try:
            with working_directory(path.parent): shell.run_all(self.nb, exc_stop=True, preproc=self.no_eval)
        except Exception: raise SystemExit(shell.prettytb(fname=path)) from None

def machine_paths() -> dict[str, str]:
    "This machine's folders that outputs may name, each with what a reader sees instead (longest first)."
    from fer_emotion.core import PACKAGE_DIR, data_dir
    subs = {str(PACKAGE_DIR): 'fer_emotion', str(data_dir()): '$FER_EMOTION_DATA', sys.prefix: '.venv', str(ROOT): '.',
            str(Path.home()): '~', tempfile.gettempdir(): '$TMPDIR', os.path.realpath(tempfile.gettempdir()): '$TMPDIR'}
    return dict(sorted(subs.items(), key=lambda kv: -len(kv[0])))

def scrub(text: str, subs: dict[str, str]) -> str:
    for path, name in subs.items(): text = text.replace(path, name)
    return text

def scrub_output(o, subs: dict[str, str]) -> None:
    "Machine paths out of output `o`'s text (images are left alone: base64 can spell anything); `show_doc` for MkDocs."
    if 'text' in o: o['text'] = scrub(''.join(o['text']), subs)
    for mime, v in o.get('data', {}).items():
        if mime.startswith('text/'):
            o['data'][mime] = scrub(v if isinstance(v, str) else ''.join(v), subs)
    if 'text/markdown' in o.get('data', {}): o['data']['text/markdown'] = show_doc_html(o['data']['text/markdown'])

_re_source = re.compile(r'\[source\]\((\S+?)\)\{[^}]*\}')   # show_doc's source link with its Quarto attributes
_re_sd_title = re.compile(r'^(#{1,6}) (\S+)$', re.MULTILINE)

def show_doc_html(md: str) -> str:
    "A `show_doc` entry for MkDocs: its source link without Quarto's attributes, its anchor as nbdev's links spell it."
    if not _re_source.search(md): return md
    md = _re_source.sub(r'<a class="sd-source" href="\1">source</a>', md)
    return _re_sd_title.sub(lambda m: f'<h{len(m[1])} id="{m[2].lower()}">{m[2]}</h{len(m[1])}>', md, count=1)

_re_quarto = re.compile(r'^#\|\s*([\w-]+):\s*(.*?)\s*$', re.MULTILINE)

def for_mkdocs(nb, subs: dict[str, str], log=sys.stderr):
    """What Quarto would do with the processed notebook, done for MkDocs: the front matter becomes the title and the
    summary (the notebook's own "Open in Colab" link follows them); `echo: false` hides a cell's code, `output: false`
    its outputs; stderr goes to the log; machine paths are scrubbed; outputs are kept as nbdev links them."""
    cfg, fm = config(), getattr(nb, 'frontmatter_', {})
    cells = [c for c in nb.cells if c.cell_type != 'raw']          # the YAML front matter for Quarto
    src = Path(nb.path_).relative_to(ROOT).as_posix()
    head = f"# {fm.get('title', Path(src).stem)}\n\n"
    if fm.get('description'): head += f"> {fm['description']}"
    site = f"{cfg.doc_host.rstrip('/')}{cfg.doc_baseurl.rstrip('/')}/"
    out = [mk_cell(head, 'markdown')]
    for c in cells:
        opts = dict(_re_quarto.findall(c.source)) if c.cell_type == 'code' else {}
        if opts.get('include') == 'false': continue
        if c.cell_type == 'code':
            c.source = _re_quarto.sub('', c.source).strip()
            tags = ['remove_input'] if opts.get('echo') == 'false' else []
            outputs = [] if opts.get('output') == 'false' else c.get('outputs', [])
            for o in outputs:
                if o.get('name') == 'stderr': log.write(f'{src}: stderr left out of the page: {"".join(o.text)[:500]}\n')
            outputs = [o for o in outputs if o.get('name') != 'stderr']
            for o in outputs: scrub_output(o, {**subs, site: ''})
            c.outputs = outputs
            c.metadata = {'tags': tags} if tags else {}
            if not c.source and not c.outputs: continue
        else: c.source = c.source.replace(site, '')
        out.append(c)
    nb.cells = out
    return nb

def process(fn: Path, flags: set, dest: Path) -> Path:
    "nbdev's processing of notebook `fn` with its run in the middle; the notebook MkDocs renders, written under `dest`."
    nb = read_nb(fn)
    procs = [FrontmatterProc, populate_language, add_show_docs, Execute(nb, flags), strip_ansi, hide_line, filter_stream_,
             rm_header_dash, clean_show_doc, rm_export, clean_magics, hide_, add_links, strip_hidden_metadata]
    NBProcessor(nb=nb, procs=procs, process=True)
    name = 'index' if fn.stem == 'index' else Path(nb.frontmatter_.get('output-file', fn.stem)).stem
    dest.mkdir(parents=True, exist_ok=True)
    page = dest/f'{name}.ipynb'
    for_mkdocs(nb, machine_paths())
    nb.metadata = {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'},
                   'fer_emotion': {'title': nb.frontmatter_.get('title', name), 'notebook': fn.name}}
    write_nb(nb, page)
    return page

def processed_pages(proc: Path) -> dict[str, Path]:
    "The notebooks processed into `proc`, by the name of their source in `nbs/`."
    return {json.loads(p.read_text())['metadata']['fer_emotion']['notebook']: p for p in (proc/'docs').glob('*.ipynb')}

def page_title(page: Path) -> str: return json.loads(page.read_text())['metadata']['fer_emotion']['title']

def mkdocs_config(proc: Path, out: Path) -> Path:
    "The MkDocs configuration of the site: every processed notebook, in the order of `nbs/`, in the sidebar."
    cfg, pages = config(), processed_pages(proc)
    missing = [nb.name for nb in all_notebooks() if nb.name not in pages]
    if missing: raise SystemExit(f'not processed yet: {", ".join(missing)} (run tools/build_docs.py on them)')
    nav = [{('Home' if nb.stem == 'index' else page_title(pages[nb.name])): pages[nb.name].name} for nb in all_notebooks()]
    (proc/'docs'/'extra.css').write_text((ROOT/'tools'/'docs.css').read_text())
    site = dict(site_name=cfg.title, site_description=cfg.description, site_url=f"{cfg.doc_host}{cfg.doc_baseurl}/",
                docs_dir='docs', site_dir=str(out), use_directory_urls=False, nav=nav, extra_css=['extra.css'],
                theme=dict(name='material', font=False, features=['navigation.top', 'search.highlight', 'toc.follow']),
                plugins=['search', {'mkdocs-jupyter': dict(include=['*.ipynb'], no_prompt=True, cache=False,
                         include_requirejs=False, remove_tag_config={'remove_input_tags': ['remove_input']})}],
                markdown_extensions=['attr_list', 'tables', 'admonition'])
    (proc/'mkdocs.yml').write_text(yaml.safe_dump(site, sort_keys=False))
    return proc/'mkdocs.yml'

def render(proc: Path, out: Path) -> None:
    "Render the processed notebooks under `proc` into the static site `out` with MkDocs."
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    build(load_config(str(mkdocs_config(proc, out))))
    print(f'site written to {out}', flush=True)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', help='process only these notebooks (the site is not rendered)')
    ap.add_argument('--flags', nargs='*', default=[], help='test flags whose cells run (see settings.ini tst_flags)')
    ap.add_argument('--render', action='store_true', help='only render the site from the notebooks in --proc')
    ap.add_argument('--proc', default=str(ROOT/'_proc'), help='folder of the processed notebooks (nbdev: _proc)')
    ap.add_argument('--out', default=str(ROOT/config().doc_path.name), help='the site (default _docs)')
    a = ap.parse_args()
    proc, out = Path(a.proc).resolve(), Path(a.out).resolve()
    if not a.render:
        if not a.notebooks: shutil.rmtree(proc/'docs', ignore_errors=True)
        for fn in [Path(n).resolve() for n in a.notebooks] or all_notebooks():
            print(f'processed {fn.name} -> {process(fn, set(a.flags), proc/"docs")}', flush=True)
    if a.render or not a.notebooks: render(proc, out)
