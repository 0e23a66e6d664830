"The Streamlit app in Streamlit's own AppTest: real uploads, real models, each bad input answered with a message."
import io
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata
from streamlit.testing.v1 import AppTest
from fer_emotion.model import load_card

APP = str(Path(__file__).resolve().parents[1]/'streamlit_app'/'app.py')

def png(rgb) -> bytes:
    b = io.BytesIO(); Image.fromarray(rgb).save(b, 'PNG'); return b.getvalue()

def jpeg(rgb, quality=90) -> bytes:
    b = io.BytesIO(); Image.fromarray(rgb).save(b, 'JPEG', quality=quality); return b.getvalue()

@pytest.fixture
def app():
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    assert not at.exception, at.exception
    return at

def upload(at, *files):
    at.file_uploader[0].set_value([(name, content, 'image/jpeg') for name, content in files])
    at.run()
    assert not at.exception, at.exception
    return at

def texts(at) -> str:
    return '\n'.join([m.value for m in at.markdown] + [s.value for s in at.subheader] + [e.value for e in at.error]
                     + [w.value for w in at.warning] + [c.value for c in at.caption] + [i.value for i in at.info])

def test_start_page_explains_and_limits(app):
    assert 'No photo yet' in app.info[0].value
    assert '20 MB' in texts(app)
    card = load_card()
    assert f"accuracy on its PublicTest faces is {card['validation_accuracy'][card['stage'] + '_tta']:.0%}" in texts(app)
    assert app.file_uploader[0].allowed_type == ['.jpg', '.jpeg', '.png', '.webp', '.bmp']

def test_real_photo_gets_boxes_and_labels(app):
    upload(app, ('astronaut.jpg', jpeg(skdata.astronaut())))
    t = texts(app)
    assert '1 face(s) found' in t
    assert any(f'**{label}**' in t for label in ('angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral')), t
    summary = app.dataframe[0].value
    assert len(summary) == 1 and abs(summary[['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']].sum(1).iloc[0] - 1) < 1e-3

def test_sample_button(app):
    app.button[0].click().run()
    assert not app.exception and '1 face(s) found' in texts(app)

def test_bad_uploads_get_messages_and_app_keeps_working(app):
    photo = jpeg(skdata.astronaut())
    big = np.random.default_rng(0).integers(0, 255, (4200, 4200, 3), np.uint8)   # 21 MB of incompressible pixels
    upload(app, ('notes.jpg', b'these are my notes, not a photo'), ('cut.jpg', photo[:len(photo) // 2]),
           ('huge.png', png(big)), ('blank.png', png(np.full((240, 320, 3), 200, np.uint8))), ('astronaut.jpg', photo))
    errors = '\n'.join(e.value for e in app.error)
    assert 'notes.jpg: This is not an image we can read' in errors
    assert 'cut.jpg: The image file is truncated or corrupt' in errors
    assert 'huge.png: The file is' in errors and 'limit is 20 MB' in errors
    assert 'blank.png: no face found' in '\n'.join(w.value for w in app.warning)
    assert '1 face(s) found' in texts(app)            # the good photo in the same batch still gets its answer
