"Random and mutated bytes through the image gate and the recognizer: only clear errors, never a crash or a hang."
import io
import numpy as np
from hypothesis import given, settings, strategies as st, HealthCheck
from PIL import Image
from fer_emotion.core import FerError
from fer_emotion.image_input import read_image, ImageError
from fer_emotion.pipeline import get_recognizer

def encoded(fmt: str) -> bytes:
    rgb = np.random.default_rng(0).integers(0, 255, (64, 80, 3), np.uint8)
    b = io.BytesIO(); Image.fromarray(rgb).save(b, fmt); return b.getvalue()

SEEDS = [encoded(f) for f in ('JPEG', 'PNG', 'WEBP', 'BMP')]

def mutate(data: bytes, flips: list[tuple[int, int]], cut: int) -> bytes:
    b = bytearray(data)
    for pos, val in flips: b[pos % len(b)] = val
    return bytes(b[:max(1, len(b) - cut)])

def check_read(data: bytes):
    try: rgb = read_image(data)
    except ImageError as e: assert str(e) and 'Traceback' not in str(e)
    else: assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.size > 0

@settings(max_examples=300, deadline=2000)
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    check_read(data)

@settings(max_examples=300, deadline=2000)
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=12), st.integers(0, 200))
def test_mutated_images(seed, flips, cut):
    check_read(mutate(seed, flips, cut))

@settings(max_examples=40, deadline=10000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8), st.integers(0, 200))
def test_recognizer_on_mutated_bytes(seed, flips, cut):
    rec = get_recognizer()
    try: faces = rec(mutate(seed, flips, cut))
    except FerError as e: assert str(e)
    else: assert isinstance(faces, list)
