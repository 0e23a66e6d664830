"""The app in a real browser: headless Chromium opens the running app on localhost, uploads two photos with the same
file name through the page (two phones' IMG_0001.jpg), waits for both results, checks the labels, the literal names,
the photos shown at no more than their natural size and that no traceback reaches the page; saves a desktop and a
phone-width screenshot (tests/artifacts/app_result.png, app_phone.png); and reads the server's log afterwards."""
import os, re, shutil, socket, subprocess, sys, time, urllib.request
import numpy as np
from pathlib import Path
import pytest
from PIL import Image
from skimage import data as skdata
from fer_emotion.core import LABELS

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT/'tests'/'artifacts'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'

def ensure_chromium() -> str:
    "Debian's Chromium: installed with apt where we are root (as in CI); otherwise the test is skipped."
    if Path(CHROMIUM).exists(): return CHROMIUM
    if os.geteuid() != 0 or not shutil.which('apt-get'): pytest.skip('Chromium is not installed and we cannot install it (not root)')
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    r = subprocess.run('apt-get update -q && apt-get install -y -q chromium', shell=True, env=env, capture_output=True, text=True, timeout=900)
    if r.returncode or not Path(CHROMIUM).exists(): pytest.skip(f'could not install Chromium with apt: {r.stderr[-500:]}')
    return CHROMIUM

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

class Server:
    "The app's server: its address and its log (stdout and stderr)."
    def __init__(self, url: str, log: Path): self.url, self.log = url, log
    def text(self) -> str: return self.log.read_text(errors='replace')

@pytest.fixture(scope='module')
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp('server')/'streamlit.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen([sys.executable, '-m', 'streamlit', 'run', str(ROOT/'streamlit_app'/'app.py'), '--server.port', str(port),
                                 '--server.address', '127.0.0.1', '--server.headless', 'true', '--browser.gatherUsageStats', 'false'],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}'
    for _ in range(240):
        try:
            if urllib.request.urlopen(f'{url}/_stcore/health', timeout=1).read() == b'ok': break
        except OSError: time.sleep(0.5)
    else:
        proc.kill(); pytest.fail('the app did not start: ' + log.read_text()[-2000:])
    yield Server(url, log)
    proc.terminate(); proc.wait(10)

def same_named_photos(tmp_path) -> list[str]:
    "Two different photos, both called IMG_0001.jpg (in two folders), as two phones would name them."
    paths = []
    for i, rgb in enumerate((skdata.astronaut(), np.ascontiguousarray(skdata.astronaut()[:, ::-1]))):
        (tmp_path/f'phone{i}').mkdir()
        Image.fromarray(rgb).save(tmp_path/f'phone{i}'/'IMG_0001.jpg', quality=92); paths.append(str(tmp_path/f'phone{i}'/'IMG_0001.jpg'))
    return paths

def upload_and_wait(page, url: str, files: list[str]) -> str:
    "Open the app, upload `files`, wait until every photo is answered and its pictures are loaded; the page's text."
    page.goto(url, wait_until='domcontentloaded')
    page.get_by_text('No photo yet').wait_for(timeout=180_000)
    page.locator('input[type="file"]').first.set_input_files(files)
    page.get_by_text('Summary', exact=True).wait_for(timeout=180_000)
    page.wait_for_function(f"document.body.innerText.match(/^\\d+ faces? found$/gm)?.length >= {len(files)}", timeout=120_000)
    page.wait_for_function("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 40).length >= 4", timeout=120_000)
    page.wait_for_timeout(1500)
    return page.inner_text('body')

def screenshot(page, path: Path) -> None:
    "The whole page: Streamlit scrolls inside its main element, so the window is first made as tall as that."
    height = page.evaluate("Math.max(...Array.from(document.querySelectorAll('[data-testid=stMain], section'))"
                           ".map(e => e.scrollHeight), document.body.scrollHeight)")
    page.set_viewport_size({'width': page.viewport_size['width'], 'height': min(int(height) + 40, 16000)})
    page.wait_for_timeout(1000)
    page.screenshot(path=str(path), full_page=True)

def check_answers(body: str, n: int) -> None:
    assert len(re.findall(r'^\d+ faces? found$', body, re.M)) == n, body[:3000]
    assert len(re.findall(r'^Photo \d of \d$', body, re.M)) == n
    assert len(re.findall(r'^IMG_0001\.jpg$', body, re.M)) >= n                 # each photo's own name, literally
    assert re.search(r'^Face 1: (' + '|'.join(LABELS) + r') \d+%', body, re.M), body[:3000]
    for bad in ('Traceback', 'StreamlitDuplicateElementKey', 'Error:', 'site-packages'):
        assert bad not in body, body[:3000]

def test_upload_in_real_browser(server, tmp_path):
    chromium = ensure_chromium()
    from playwright.sync_api import sync_playwright
    files = same_named_photos(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=['--no-sandbox', '--disable-gpu', '--disable-background-networking',
                                    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'])
        page = browser.new_page(viewport={'width': 1200, 'height': 1600})
        check_answers(upload_and_wait(page, server.url, files), 2)
        # the 512 px photos are shown at their natural size, not stretched to the page's width
        sizes = page.evaluate("Array.from(document.images).filter(i => i.naturalWidth === 512).map(i => [i.clientWidth, i.naturalWidth])")
        assert len(sizes) >= 2 and all(shown <= natural for shown, natural in sizes), sizes
        screenshot(page, ARTIFACTS/'app_result.png')
        phone = browser.new_page(viewport={'width': 390, 'height': 844})
        check_answers(upload_and_wait(phone, server.url, files), 2)
        assert phone.evaluate('document.documentElement.scrollWidth') <= 400   # no sideways scrolling on a phone
        sizes = phone.evaluate("Array.from(document.images).filter(i => i.naturalWidth === 512).map(i => i.getBoundingClientRect().right)")
        assert sizes and max(sizes) <= 390, sizes                               # the photos fit the phone's width
        screenshot(phone, ARTIFACTS/'app_phone.png')
        browser.close()
    assert (ARTIFACTS/'app_result.png').stat().st_size > 10_000 and (ARTIFACTS/'app_phone.png').stat().st_size > 10_000
    log = server.text()
    assert 'Traceback' not in log, log[-3000:]                                  # every photo analysed without a failure
    assert not re.search(r'use_container_width|deprecat', log, re.I), log[-3000:]
