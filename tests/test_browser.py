"""The app in a real browser: headless Chromium opens the running app on localhost, uploads a photo through the page,
waits for the result, checks the label is shown and saves a screenshot (tests/artifacts/app_result.png)."""
import os, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest
from PIL import Image
from skimage import data as skdata

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

@pytest.fixture(scope='module')
def server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, '-m', 'streamlit', 'run', str(ROOT/'streamlit_app'/'app.py'), '--server.port', str(port),
                             '--server.address', '127.0.0.1', '--server.headless', 'true', '--browser.gatherUsageStats', 'false'],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}'
    for _ in range(240):
        try:
            if urllib.request.urlopen(f'{url}/_stcore/health', timeout=1).read() == b'ok': break
        except OSError: time.sleep(0.5)
    else:
        proc.kill(); pytest.fail('the app did not start: ' + proc.stdout.read()[-2000:])
    yield url
    proc.terminate(); proc.wait(10)

def test_upload_in_real_browser(server, tmp_path):
    chromium = ensure_chromium()
    from playwright.sync_api import sync_playwright
    photo = tmp_path/'astronaut.jpg'; Image.fromarray(skdata.astronaut()).save(photo, quality=92)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=['--no-sandbox', '--disable-gpu', '--disable-background-networking',
                                    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'])
        page = browser.new_page(viewport={'width': 1200, 'height': 1600})
        page.goto(server, wait_until='domcontentloaded')
        page.get_by_text('No photo yet').wait_for(timeout=180_000)
        page.locator('input[type="file"]').first.set_input_files(str(photo))
        page.get_by_text('face(s) found').wait_for(timeout=180_000)
        page.wait_for_function("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 40).length >= 2", timeout=120_000)
        page.get_by_text('Summary').wait_for(timeout=120_000)
        page.wait_for_timeout(1500)
        body = page.inner_text('body')
        assert any(f'{label} (' in body for label in ('angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral')), body[:2000]
        page.screenshot(path=str(ARTIFACTS/'app_result.png'), full_page=True)
        phone = browser.new_page(viewport={'width': 390, 'height': 844})
        phone.goto(server, wait_until='domcontentloaded')
        phone.get_by_text('No photo yet').wait_for(timeout=180_000)
        assert phone.evaluate('document.documentElement.scrollWidth') <= 400   # no sideways scrolling on a phone
        browser.close()
    assert (ARTIFACTS/'app_result.png').stat().st_size > 10_000
