"""Hostile bytes through the image gate, the recognizer, every detector backend and `fer-emotion predict`: only clear
errors within the budget, never a crash, a hang or a lost batch.

A small fixed sample of the generators of `tools/fuzz_benchmark.py` (which runs thousands of them), plus the cases
each part of the defence exists for. The recognizer runs with the package's default detector; set
FER_FUZZ_DETECTOR to test another one.
"""
import contextlib, io, json, os, subprocess, sys, threading, time
from pathlib import Path
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from PIL import Image
from fer_emotion.core import FerError
from fer_emotion.detect import DEFAULT_DETECTOR, DETECTORS
from fer_emotion.image_input import (read_image, read_image_file, check_structure, decode, pool, time_budget, ImageError,
                                     MAX_BYTES, MAX_PIXELS, MEMORY_LIMIT, WALL_FACTOR)
from fer_emotion.pipeline import get_recognizer
import fuzz_benchmark as fz

DETECTOR = os.environ.get('FER_FUZZ_DETECTOR', DEFAULT_DETECTOR)
ROOT = Path(__file__).resolve().parents[1]

def encoded(fmt: str) -> bytes:
    rgb = np.random.default_rng(0).integers(0, 255, (64, 80, 3), np.uint8)
    b = io.BytesIO(); Image.fromarray(rgb).save(b, fmt); return b.getvalue()

SEEDS = [encoded(f) for f in ('JPEG', 'PNG', 'WEBP', 'BMP')]

def mutate(data: bytes, flips: list[tuple[int, int]], cut: int) -> bytes:
    b = bytearray(data)
    for pos, val in flips: b[pos % len(b)] = val
    return bytes(b[:max(1, len(b) - cut)])

def check_read(data: bytes, **kw):
    "read_image gives a well-formed array or an ImageError in words, within the budget; returns the array or None."
    t = time.monotonic()
    try: rgb = read_image(data, **kw)
    except ImageError as e:
        assert str(e) and 'Traceback' not in str(e)
        rgb = None
    else: assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.size > 0 and rgb.flags.c_contiguous
    assert time.monotonic() - t < WALL_FACTOR * time_budget(MAX_PIXELS) + 2
    return rgb

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    check_read(data)

@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=12), st.integers(0, 200))
def test_mutated_images(seed, flips, cut):
    check_read(mutate(seed, flips, cut))

# Four inputs of every generator family (the first four of the benchmark's run, seed 0), and what each is expected to do.
SAMPLE = list(range(4 * len(fz.FAMILIES)))

def test_generator_sample_read():
    outcomes = {}
    for i in SAMPLE:
        fam, data = fz.case(i)
        assert fz.case(i) == (fam, data)                            # the same input every time
        outcomes.setdefault(fam, []).append('ok' if check_read(data) is not None else 'refused')
    assert set(outcomes) == set(fz.FAMILIES)
    assert outcomes['modes'] == ['ok'] * 4 and outcomes['random'] == ['refused'] * 4, outcomes

def test_generator_sample_recognizer():
    rec = get_recognizer(DETECTOR)
    for i in SAMPLE:
        fam, data = fz.case(i)
        try: faces = rec(data)
        except FerError as e: assert str(e), fam
        else: assert isinstance(faces, list)

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8), st.integers(0, 200))
def test_recognizer_on_mutated_bytes(seed, flips, cut):
    rec = get_recognizer(DETECTOR)
    try: faces = rec(mutate(seed, flips, cut))
    except FerError as e: assert str(e)
    else: assert isinstance(faces, list)


# ---------------------------------------------------------------- the structural checks: each known trick, refused cheaply

PHOTO = fz.picture(np.random.default_rng(1), 120, 90)

@pytest.mark.parametrize('make, reason', [
    (lambda: fz.progressive_scans(PHOTO, 300), 'progressive JPEG scans'),
    (lambda: fz.png_chunk_flood(PHOTO, b'iCCP', 2, 1000), 'colour profiles'),
    (lambda: fz.png_chunk_flood(PHOTO, b'tEXt', 1200), 'metadata chunks'),
    (lambda: fz.png_chunk_flood(PHOTO, b'tEXt', 9, 1_000_000), 'bytes of PNG metadata'),
    (lambda: fz.png_chunk_flood(PHOTO, b'IDAt', 25_000, 0), 'PNG chunks'),
    (lambda: fz.jpeg_with_exif(PHOTO, fz.exif_flood(1000, 60_000)), 'EXIF tags point at'),
    (lambda: fz.encode(PHOTO, 'PNG', exif=b'Exif\0\0' + fz.exif_flood(1, 4_300_000)), 'bytes of EXIF'),
    (lambda: fz.webp_with_exif(PHOTO, fz.exif_flood(2000, 8)), 'EXIF tags'),
    (lambda: fz.bmp_rle(40_000_000, 1, [(0, 2, 255, 255)]), 'run-length'),
])
def test_structure_refuses(make, reason):
    data = make()
    t = time.perf_counter()
    with pytest.raises(ImageError, match='too complex') as e: read_image(data)
    assert reason in str(e.value), str(e.value)
    assert time.perf_counter() - t < 0.5                            # refused before any worker is involved

def test_structure_passes_ordinary_files():
    exif = Image.Exif(); exif[0x0112] = 6; exif[0x010F] = 'maker'
    for fmt, kw in [('JPEG', dict(progressive=True, exif=exif)), ('JPEG', dict(exif=exif, icc_profile=b'p' * 70_000)),
                    ('PNG', dict(exif=exif, icc_profile=b'p' * 3000)), ('WEBP', dict(exif=exif)), ('BMP', {})]:
        data = fz.encode(PHOTO, fmt, **kw)
        check_structure(data)
        assert read_image(data).shape[:2] == ((120, 90) if 'exif' in kw else (90, 120))


# ---------------------------------------------------------------- the budget: what the checks miss, the workers stop

def test_budget_stops_what_the_checks_miss():
    "Known tricks sent past the checks (as an unknown one would get there): stopped by the worker's time and memory limits."
    scans = fz.progressive_scans(Image.new('RGB', (6000, 6000), (90, 100, 110)), 10_000)
    t = time.monotonic()
    with pytest.raises(ImageError, match='too complex.*takes over 3.6 s'): pool().decode(scans, MAX_PIXELS)
    assert time.monotonic() - t < WALL_FACTOR * time_budget(36_000_000) + 1
    with pytest.raises(ImageError, match='too complex.*memory'): pool().decode(fz.bmp_rle(40_000_000, 1, [(0, 2, 255, 255)]), MAX_PIXELS)
    t = time.monotonic()
    assert read_image(SEEDS[1]).shape == (64, 80, 3) and time.monotonic() - t < 1     # the next image: a warm worker at once

def test_workers_hold_nothing_on_disk():
    "The upload travels through pipes and a memory file; a worker cannot dump core, and its address space is capped."
    read_image(SEEDS[0])
    for pid in pool().pids():
        for fd in os.listdir(f'/proc/{pid}/fd'):
            target = os.readlink(f'/proc/{pid}/fd/{fd}')
            assert target.startswith(('pipe:', '/memfd:fer-emotion-image', '/dev/null')), target
        limits = Path(f'/proc/{pid}/limits').read_text()
        core = next(l for l in limits.splitlines() if l.startswith('Max core file size')).split()
        space = next(l for l in limits.splitlines() if l.startswith('Max address space')).split()
        assert core[4] == '0' and MEMORY_LIMIT < int(space[3]) < MEMORY_LIMIT + 2**29, (core, space)

def test_concurrent_and_forked_callers():
    "Threads share the pool (at most one decode per core at a time); a forked child never uses its parent's workers."
    files = [fz.encode(fz.picture(np.random.default_rng(k), 40 + k, 30), 'PNG') for k in range(8)]
    want = [decode(f) for f in files]
    errors = []
    def work(k):
        for _ in range(5):
            if not np.array_equal(read_image(files[k]), want[k]): errors.append(k)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert not errors
    parent = set(pool().pids())
    pid = os.fork()
    if pid == 0:                                                    # the child: its own pool, its own workers
        code = 1
        try:
            from fer_emotion import image_input
            code = 0 if np.array_equal(read_image(files[0]), want[0]) and not parent & set(image_input.pool().pids()) else 3
        finally: os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert np.array_equal(read_image(files[1]), want[1])


# ---------------------------------------------------------------- files: checked before they are read

def test_files_checked_before_reading(tmp_path):
    with open(tmp_path/'huge.jpg', 'wb') as f: f.truncate(2**31)
    t = time.perf_counter()
    with pytest.raises(ImageError, match='2,147,483,648 bytes'): read_image_file(tmp_path/'huge.jpg')
    assert time.perf_counter() - t < 0.1                            # from its size, without reading 2 GB
    (tmp_path/'over.png').write_bytes(bytes(MAX_BYTES + 1))
    with pytest.raises(ImageError, match=r'20 MB \(20,971,521 bytes\), 1 byte over the limit of 20 MB \(20,971,520 bytes\)'):
        read_image_file(tmp_path/'over.png')
    os.mkfifo(tmp_path/'pipe.png')
    with pytest.raises(ImageError, match=r'not a regular file \(a named pipe\)'): read_image_file(tmp_path/'pipe.png')
    with pytest.raises(ImageError, match=r'not a regular file \(a device\)'): read_image_file('/dev/urandom')


# ---------------------------------------------------------------- downstream: every image that passes read_image works

SHAPES = [(1, 1), (1, 2), (2, 1), (1, 300), (300, 1), (3, 1000), (1000, 3), (1, 40_000), (40_000, 1), (7, 9), (16, 16)]

def test_pipeline_on_extreme_shapes():
    "Valid files of extreme shapes pass read_image, then the whole recognizer (with landmarks) answers without a crash."
    rec = get_recognizer(DETECTOR)
    rng = np.random.default_rng(0)
    for h, w in SHAPES:
        for fmt in ('PNG', 'BMP'):
            data = fz.encode(Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)), fmt)
            assert read_image(data).shape == (h, w, 3)
            assert isinstance(rec(data, landmarks=True), list), (h, w, fmt)

BACKEND_SCRIPT = '''
import sys, numpy as np
from fer_emotion.detect import detect_faces
shapes = {shapes!r}
rng = np.random.default_rng(0)
for s in shapes:
    print('shape', s, flush=True)
    try: detect_faces(rng.integers(0, 255, tuple(s) + (3,), np.uint8), sys.argv[1])
    except Exception as e: print('FAILED', s, type(e).__name__, str(e).strip().splitlines()[-1][:200] if str(e).strip() else '', flush=True)
print('done', flush=True)
'''

@pytest.mark.parametrize('backend', [n for n in DETECTORS if n not in ('yunet', 'blazeface_256', 'blazeface_384')])
def test_backend_on_extreme_shapes(backend):
    "Each detector backend, in its own process (a crash inside a backend would end the test run), on every extreme shape."
    r = subprocess.run([sys.executable, '-c', BACKEND_SCRIPT.format(shapes=SHAPES), backend], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    failed = [l for l in r.stdout.splitlines() if l.startswith('FAILED')]
    if r.returncode != 0:
        last = ([l for l in r.stdout.splitlines() if l.startswith('shape')][-1:] or ['before the first shape'])[0]
        failed.append(f'KILLED the process (exit {r.returncode}) on {last}: ' + ' | '.join(r.stderr.strip().splitlines()[-2:]))
    assert not failed, f'{backend}: ' + '; '.join(failed)


# ---------------------------------------------------------------- predict: one bad input never loses the others

def test_predict_isolates_every_input(tmp_path):
    "A folder mixing hostile files, special files and real photos: the JSON is always printed, with the photos' faces."
    from skimage import data as skdata
    from fer_emotion.cli import main
    d = tmp_path/'mixed'; d.mkdir()
    for i in SAMPLE[::2]:
        fam, data = fz.case(i)
        (d/f'{i:03d}_{fam}.{("jpg", "png", "webp", "bmp")[i % 4]}').write_bytes(data)
    photo = fz.encode(Image.fromarray(skdata.astronaut()), 'JPEG')
    (d/'astronaut.jpg').write_bytes(photo); (d/'zz_astronaut.png').write_bytes(photo)
    os.mkfifo(d/'fifo.jpg')
    with open(os.fsencode(d) + b'/bad_\xff.jpg', 'wb') as f: f.write(photo)
    (tmp_path/'empty').mkdir()
    out = io.StringIO()
    with contextlib.redirect_stdout(out): code = main(['predict', str(d), str(tmp_path/'empty'), '--json', '--detector', DETECTOR])
    res = json.loads(out.getvalue())
    assert code == 1
    assert len(res) == len(SAMPLE[::2]) + 5
    by_name = {os.path.basename(r['image']): r for r in res}
    for name in ('astronaut.jpg', 'zz_astronaut.png', os.fsdecode(b'bad_\xff.jpg')):
        assert by_name[name]['error'] is None and len(by_name[name]['faces']) == 1, by_name[name]
    assert 'not a regular file' in by_name['fifo.jpg']['error'] and by_name['empty']['error'] == 'The folder is empty.'
    assert by_name[os.fsdecode(b'bad_\xff.jpg')]['image_bytes']
    internal = [r for r in res if r['error'] and 'Internal error' in r['error']]
    assert not internal, internal

def test_predict_streams_and_closes_its_json_when_interrupted(tmp_path):
    "Entries arrive one by one while the run goes on; Ctrl-C ends it with the array closed (valid JSON) and exit 130."
    import signal
    photo = fz.encode(fz.face_picture(np.random.default_rng(0)), 'JPEG')
    for k in range(400): (tmp_path/f'{k:03d}.jpg').write_bytes(photo)   # many: the run must outlast the signal
    p = subprocess.Popen([sys.executable, '-c', 'import sys; from fer_emotion.cli import main; sys.exit(main())', 'predict',
                          str(tmp_path), '--json', '--detector', DETECTOR], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # Ctrl-C as in a terminal, even
    first = b''                                                      # where the tests run as a background job (SIGINT ignored)
    while b'"image"' not in first:
        chunk = p.stdout.read1(65536)
        assert chunk, 'the output ended before the first entry'
        first += chunk
    p.send_signal(signal.SIGINT)                                     # the run is still going: 400 photos take seconds
    rest, err = p.communicate(timeout=120)
    res = json.loads(first + rest)
    assert p.returncode == 130 and 'interrupted' in err.decode(), (p.returncode, err[-500:])
    assert 1 <= len(res) < 400 and all(r['error'] is None and len(r['faces']) == 1 for r in res)
