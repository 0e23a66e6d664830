"""Speed and memory of fer_emotion on this machine, and the `fer` package's bundled model side by side.

Each part runs in a fresh process (so load times and peak memory are its own) and the figures are written to
`nbs/figures/benchmark.json`, which the model-card page shows. Not a test: timings depend on the machine.

    python tools/benchmark.py                   # all parts
    python tools/benchmark.py classify pipeline # some parts

The peer: `pip install --no-deps --target /tmp/fer_bench fer==22.5.1 tqdm` (a benchmark-only folder, outside the
project's environment; its model needs nothing beyond what we have), then FER_BENCH_PATH=/tmp/fer_bench.
"""
import json, os, resource, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'nbs'/'figures'/'benchmark.json'

def peak_mb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def median_ms(fn, repeat: int) -> float:
    import numpy as np
    fn(); times = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)

def part_classify() -> dict:
    t0 = time.perf_counter()
    import numpy as np
    from fer_emotion.model import EmotionModel
    t1 = time.perf_counter(); em = EmotionModel(); t2 = time.perf_counter()
    faces = np.random.default_rng(0).integers(0, 255, (64, 48, 48), np.uint8)
    res = dict(import_s=t1 - t0, model_load_s=t2 - t1, dtype=em.dtype)
    for tta in (False, True):
        k = 'tta' if tta else 'plain'
        res[f'ms_per_face_batch1_{k}'] = median_ms(lambda: em.predict_proba(faces[:1], tta=tta), 50)
        res[f'ms_per_face_batch64_{k}'] = median_ms(lambda: em.predict_proba(faces, tta=tta), 20) / 64
    if em.dtype != 'float32':   # the same model in float32, as on a CPU without bfloat16 instructions
        em32 = EmotionModel(dtype='float32')
        for tta in (False, True):
            res[f'float32_ms_per_face_batch64_{"tta" if tta else "plain"}'] = median_ms(lambda: em32.predict_proba(faces, tta=tta), 20) / 64
    res['peak_rss_mb'] = peak_mb()
    return res

def part_pipeline() -> dict:
    import numpy as np, cv2
    from skimage import data
    from fer_emotion.pipeline import Recognizer, load_rgb
    from fer_emotion.detect import detect_faces, DEFAULT_DETECTOR
    t = time.perf_counter(); rec = Recognizer(); load_s = time.perf_counter() - t
    photo = np.zeros((480, 640, 3), np.uint8); photo[:] = 90
    photo[:, 64:576] = cv2.resize(data.astronaut(), (512, 480))          # one face, 640x480
    assert len(rec(photo)) == 1, 'benchmark photo should have one face'
    dets = detect_faces(photo)
    res = dict(detector=DEFAULT_DETECTOR, recognizer_load_s=load_s,
               ms_per_photo_640x480=median_ms(lambda: rec(photo), 30),
               ms_detect=median_ms(lambda: detect_faces(photo), 30))
    res['ms_crop_classify'] = res['ms_per_photo_640x480'] - res['ms_detect']
    if rec.landmarker: res['ms_landmarks_when_shown'] = median_ms(lambda: rec.landmarker.landmarks(photo, dets[0].box), 30)
    for w, h in ((1280, 960), (1920, 1440), (4000, 3000)):   # also read whole up to 1920 px; larger photos shrunk to that
        big = cv2.resize(photo, (w, h), interpolation=cv2.INTER_LINEAR)
        res[f'ms_detect_{w}x{h}'] = median_ms(lambda: detect_faces(big), 10)
    res['ms_detect_per_extra_megapixel'] = (res['ms_detect_1920x1440'] - res['ms_detect']) / (1920 * 1440 / 1e6 - 0.3072)
    res['peak_rss_mb'] = peak_mb()
    return res

def part_app() -> dict:
    "Cold start: process start until the page has rendered its first screen (models loaded), in headless Chromium."
    import socket, urllib.request
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, '-m', 'streamlit', 'run', str(ROOT/'streamlit_app'/'app.py'), '--server.port', str(port),
                             '--server.headless', 'true'], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if urllib.request.urlopen(f'http://127.0.0.1:{port}/_stcore/health', timeout=1).read() == b'ok': break
            except OSError: time.sleep(0.1)
        res = dict(server_ready_s=time.perf_counter() - t)
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path='/usr/bin/chromium', args=['--no-sandbox', '--disable-background-networking', '--disable-component-update'])
            page = b.new_page(); page.goto(f'http://127.0.0.1:{port}')
            page.get_by_text('No photo yet').wait_for(timeout=300_000)
            res['page_ready_s'] = time.perf_counter() - t
            b.close()
        return res
    finally: proc.terminate()

def part_peer() -> dict:
    "The `fer` package's bundled mini-Xception on the same validation faces, through its public API."
    sys.path.insert(0, os.environ.get('FER_BENCH_PATH', '/tmp/fer_bench'))
    import types   # fer's __init__ imports its video helper, which needs moviepy; we use only images: stand it in
    sys.modules.setdefault('moviepy', types.ModuleType('moviepy')); sys.modules.setdefault('moviepy.editor', types.ModuleType('moviepy.editor'))
    import numpy as np, cv2
    from fer.fer import FER
    from fer_emotion.core import data_dir, LABELS
    from fer_emotion.data import load_image_folder
    from fer_emotion.model import EmotionModel
    X, y, _ = load_image_folder(data_dir()/'fer2013'/'validation')
    peer = FER(offsets=(0, 0))
    def peer_label(face):
        r = peer.detect_emotions(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR), face_rectangles=[(0, 0, 48, 48)])
        return LABELS.index(max(r[0]['emotions'], key=r[0]['emotions'].get))
    t = time.perf_counter(); pred = np.array([peer_label(f) for f in X]); dt = time.perf_counter() - t
    em = EmotionModel()
    t2 = time.perf_counter(); ours = em.predict_proba(X).argmax(1); dt2 = time.perf_counter() - t2
    return dict(images=len(X), fer_accuracy=float((pred == y).mean()), fer_ms_per_face_api=dt / len(X) * 1000,
                ours_accuracy=float((ours == y).mean()), ours_ms_per_face_batched_tta=dt2 / len(X) * 1000)

PARTS = dict(classify=part_classify, pipeline=part_pipeline, app=part_app, peer=part_peer)

if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--part':
        print(json.dumps(PARTS[sys.argv[2]]())); sys.exit()
    import platform
    from fer_emotion.model import inference_dtype
    machine = dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), when=time.strftime('%Y-%m-%d'),
                   inference=inference_dtype())
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for name in sys.argv[1:] or PARTS:
        r = subprocess.run([sys.executable, __file__, '--part', name], capture_output=True, text=True, cwd=ROOT)
        if r.returncode: print(f'{name} failed:\n{r.stderr[-3000:]}'); continue
        results[name] = json.loads(r.stdout.strip().splitlines()[-1])
        print(name, json.dumps(results[name], indent=1), flush=True)
        results.setdefault('machines', {})[name] = machine   # each part's own machine: parts are rerun separately
    if not sys.argv[1:]: results['machine'] = machine
    OUT.parent.mkdir(parents=True, exist_ok=True); OUT.write_text(json.dumps(results, indent=1))
