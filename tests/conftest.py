"Shared test settings: where the development data is, and which nbdev test flags the notebooks run with."
import os, subprocess, sys
from pathlib import Path
import pytest
# The app's WebRTC stack must load before TensorFlow (pylibsrtp crashes when imported after it; see the app), and the
# AppTest runs the app inside this process, after test modules that import TensorFlow: load it first, here.
import streamlit_webrtc  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT/'tools')]
from fer_emotion.core import data_dir, has_data
from build_docs import all_notebooks as notebooks, processed_pages   # the site's pages: one rule for the docs and the tests

# Cells marked `#| data` need the development data; they run only where it is present.
NB_FLAGS = ['data'] if has_data('fer2013') else []
NO_DATA = f'development data not found at {data_dir()} (set FER_EMOTION_DATA to its folder)'

def pytest_report_header(config):
    return f'fer_emotion data: {data_dir()} ({"found" if NB_FLAGS else "ABSENT: data-dependent notebook cells and tests are skipped"})'

@pytest.fixture
def need_data():
    if not has_data('fer2013'): pytest.skip(NO_DATA)
    return data_dir()

def build_docs(*args, timeout: int = 1800) -> subprocess.CompletedProcess:
    "Run `tools/build_docs.py` with `args` and the session's test flags."
    cmd = [sys.executable, str(ROOT/'tools'/'build_docs.py'), *map(str, args), *(['--flags', *NB_FLAGS] if NB_FLAGS else [])]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)

@pytest.fixture(scope='session')
def processed(tmp_path_factory) -> Path:
    """The notebooks processed by nbdev and run for the docs (`tools/build_docs.py`): `test_notebook_runs` fills it, one
    notebook a test, so that each notebook runs once a session for its tests and its page."""
    return tmp_path_factory.mktemp('proc')
