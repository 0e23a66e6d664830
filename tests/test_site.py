"""The notebooks as their readers meet them: the docs site built offline (`./run.sh docs`: nbdev's processing, MkDocs)
checked as files and in headless Chromium, and JupyterLab (`./run.sh lab`) running a notebook in headless Chromium.
The site is rendered from the notebooks `test_notebooks.py` processed and ran (each notebook runs once a session);
run alone, this file processes them itself. The last site built is copied to `_docs/`."""
import functools, json, os, re, shutil, subprocess, sys, tempfile, threading, time, urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import pytest
from conftest import ROOT, NB_FLAGS, build_docs, notebooks, processed_pages
from test_browser import ensure_chromium, free_port
from fer_emotion.core import PACKAGE_DIR, data_dir

CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run', '--disable-quic']

@pytest.fixture(scope='session')
def site(processed, tmp_path_factory) -> Path:
    "The site rendered into a temporary `_docs/` from every processed notebook (processing those not yet processed)."
    missing = [nb for nb in notebooks() if nb.name not in processed_pages(processed)]
    if missing:
        r = build_docs(*missing, '--proc', processed)
        assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    out = tmp_path_factory.mktemp('site')/'_docs'
    r = build_docs('--render', '--proc', processed, '--out', out, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-6000:]
    shutil.rmtree(ROOT/'_docs', ignore_errors=True); shutil.copytree(out, ROOT/'_docs')
    return out

def pages(site: Path, processed: Path) -> dict[str, str]:
    "The HTML of each notebook's page, by notebook name."
    return {nb: (site/f'{p.stem}.html').read_text() for nb, p in processed_pages(processed).items()}

def test_site_pages(site, processed):
    """Every notebook is a page, in reading order in the sidebar, with its title, an "Open in Colab" link and no prompts,
    front matter, tracebacks or paths of this machine; every exported function and class has its entry."""
    html = pages(site, processed)
    assert set(html) == {nb.name for nb in notebooks()}
    home = (site/'index.html').read_text()
    order = [processed_pages(processed)[nb.name].stem + '.html' for nb in notebooks()]
    nav = [href for href in re.findall(r'<a href="([\w.]+\.html)" class="md-nav__link', home) if href in order]
    assert list(dict.fromkeys(nav)) == order, nav
    machine = {str(ROOT), str(data_dir()), sys.prefix, str(Path.home()) + '/', tempfile.gettempdir() + '/', 'site-packages'}
    for nb, text in html.items():
        text = re.sub(r'data:image/[\w+.-]+;base64,[\w+/=]+', '', text)     # base64 can spell anything
        assert f'colab.research.google.com/github/fer-emotion/fer_emotion/blob/main/nbs/{nb}"' in text, nb
        for bad in ('In&nbsp;[', 'In [', 'Out[', 'class="jp-InputPrompt', 'output-file:', 'Traceback', 'google.colab', *machine):
            assert bad not in text, f'{nb}: {bad!r} in the page'
    from fer_emotion._modidx import d as modidx
    for mod, syms in modidx['syms'].items():
        for sym, (doc, _) in syms.items():
            if sym.count('.') > 2 or sym.rsplit('.', 1)[1].startswith('_'): continue   # methods go with their class
            page, anchor = doc.split('#')
            assert f'id="{anchor}"' in (site/page).read_text(), f'{sym} has no entry on {page}'
    assert 'data:image/png' in html['05_train.ipynb'] and '<table' in html['15_model_card.ipynb']
    if NB_FLAGS: assert html['03_explore.ipynb'].count('data:image/png') >= 4, 'plots missing from the explore page'

def test_colab_setup_cell_is_a_no_op_here(tmp_path):
    """The Colab setup cell (installing the package, bringing FER-2013) is hidden from the docs (`#| hide`) and does
    nothing outside Colab: no output, no change to the environment, no file written."""
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    cells = {nb.name: ''.join(c['source']) for nb in notebooks() for c in json.loads(nb.read_text())['cells']
             if c['cell_type'] == 'code' and 'google.colab' in ''.join(c['source'])}
    assert '05_train.ipynb' in cells, 'the training notebook has no Colab setup cell'
    for name, src in cells.items():
        assert src.startswith('#| hide'), name
        env, shell = dict(os.environ), CaptureShell()
        with working_directory(tmp_path): outputs = shell.run(src)
        assert shell.exc is None and outputs == [], (name, shell.exc, outputs)
        assert dict(os.environ) == env and not any(tmp_path.iterdir()), name

class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

@pytest.fixture(scope='module')
def site_url(site):
    "The site served on localhost, as any static host would serve it."
    server = ThreadingHTTPServer(('127.0.0.1', free_port()), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_port}'
    server.shutdown()

def offline_page(browser, outside: list):
    "A page that may load only from localhost; anything else is refused and recorded in `outside`."
    page = browser.new_page(viewport={'width': 1280, 'height': 900})
    def route(r):
        if r.request.url.startswith(('http://127.0.0.1', 'data:', 'blob:')): return r.continue_()
        outside.append(r.request.url); r.abort()
    page.route('**/*', route)
    return page

def test_site_in_browser(site_url):
    "Search finds `get_recognizer`'s entry; the pipeline page shows its signature; a plot is an image on its page."
    from playwright.sync_api import sync_playwright
    chromium, outside = ensure_chromium(), []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = offline_page(browser, outside)
        page.goto(f'{site_url}/index.html')
        page.locator('label.md-search__icon, .md-search__inner').first.click()
        page.locator('input.md-search__input').fill('get_recognizer')
        hit = page.locator('.md-search-result__item a[href*="#get_recognizer"]').first   # may sit under "more"
        hit.wait_for(state='attached', timeout=30_000)
        page.goto(hit.get_attribute('href'))
        page.wait_for_url(re.compile(r'pipeline\.html.*#get_recognizer'))
        entry = page.locator('h3#get_recognizer').locator('xpath=..')
        assert re.search(r'def get_recognizer\(', entry.inner_text()), entry.inner_text()[:2000]
        page.goto(f'{site_url}/train.html')
        plots = page.evaluate("Array.from(document.querySelectorAll('.jp-OutputArea-output img'))"
                              ".filter(i => i.complete && i.naturalWidth > 200).length")
        assert plots >= 2, plots
        nav = page.locator('nav.md-nav--primary').inner_text()
        assert nav.index('core') < nav.index('pipeline') < nav.index('Model card'), nav   # the model card is a page
        browser.close()
    assert not outside, f'the site asked the network for: {outside}'

LAB_STATE = """() => {
  const w = window.jupyterapp?.shell.currentWidget;
  if (!w?.content?.model || !w.sessionContext?.session?.kernel) return null;
  const cells = Array.from(w.content.model.cells).map(c => c.toJSON()).filter(c => c.cell_type === 'code');
  const bad = cells.flatMap(c => c.outputs).filter(o => o.output_type === 'error' ||
      (o.output_type === 'stream' && o.name === 'stderr' && /Traceback|Error/.test([].concat(o.text).join(''))));
  return {kernel: w.sessionContext.session.kernel.status, cells: cells.length,
          ran: cells.filter(c => c.execution_count !== null).length, errors: bad.map(o => JSON.stringify(o).slice(0, 3000))};
}"""

def test_lab_runs_pipeline_notebook(tmp_path):
    """`./run.sh lab` starts JupyterLab on the project's environment; in headless Chromium, 13_pipeline runs every cell
    without an error output. The server works on a copy of `nbs/`, since JupyterLab saves the notebooks it runs."""
    from playwright.sync_api import sync_playwright
    chromium = ensure_chromium()
    shutil.copytree(ROOT/'nbs', tmp_path/'nbs')
    port, token = free_port(), 'fer-emotion-test'
    env = dict(os.environ, FER_EMOTION_VENV=sys.prefix, JUPYTER_CONFIG_DIR=str(tmp_path/'config'),
               JUPYTER_RUNTIME_DIR=str(tmp_path/'runtime'), JUPYTERLAB_SETTINGS_DIR=str(tmp_path/'settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path/'workspaces'))
    log = tmp_path/'lab.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen([str(ROOT/'run.sh'), 'lab', f'--ServerApp.root_dir={tmp_path/"nbs"}', '--no-browser',
                                 '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}', f'--IdentityProvider.token={token}',
                                 '--LabApp.expose_app_in_browser=True'], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):
            try: urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2); break
            except OSError:
                if proc.poll() is not None: pytest.fail('JupyterLab stopped: ' + log.read_text()[-3000:])
                time.sleep(0.5)
        else: pytest.fail('JupyterLab did not start: ' + log.read_text()[-3000:])
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={'width': 1400, 'height': 1000})
            page.goto(f'{url}/lab/tree/13_pipeline.ipynb?token={token}')
            page.wait_for_function(f'({LAB_STATE})()?.kernel === "idle"', timeout=180_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            deadline, state = time.time() + 1200, None
            while time.time() < deadline:
                state = page.evaluate(f'({LAB_STATE})()')
                assert not state['errors'], '\n'.join(state['errors'])
                if state['ran'] == state['cells'] and state['kernel'] == 'idle': break
                time.sleep(2)
            else: pytest.fail(f'13_pipeline did not finish in JupyterLab: {state}')
            assert state['cells'] >= 5, state
            browser.close()
    finally:
        proc.terminate(); proc.wait(30)
