"""fer_emotion's upload app: a thin page over `fer_emotion.pipeline` (no model logic here).

Run with `./run.sh app`. Uploaded images are processed in memory: nothing is written to disk or sent anywhere.
"""
import io, json
import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image
# The webcam's WebRTC stack (aiortc -> pylibsrtp) must load before TensorFlow: imported after it, pylibsrtp's
# OpenSSL initialisation crashes the process (seen with tensorflow-cpu 2.19). So it is imported first, here.
try:
    import av
    from streamlit_webrtc import webrtc_streamer
except ImportError: webrtc_streamer = None

from fer_emotion.core import LABELS, FerError
from fer_emotion.image_input import FORMATS, MAX_BYTES, MAX_PIXELS, read_image
from fer_emotion.detect import DETECTORS, DEFAULT_DETECTOR
from fer_emotion.pipeline import get_recognizer, annotate, gradcam, overlay
from fer_emotion.model import load_card

st.set_page_config(page_title='fer_emotion: faces and emotions', page_icon='🙂', layout='wide')
LIMIT = f'{MAX_BYTES // 2**20} MB and {MAX_PIXELS // 10**6} megapixels per image'
_card = load_card()
ACCURACY = _card['validation_accuracy'][f"{_card['stage']}_tta"]   # the shipped model's, with flip TTA, from its card
EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'bmp']


@st.cache_resource(show_spinner='Loading the models (once per server)...')
def recognizer(detector: str):
    return get_recognizer(detector)


@st.cache_data(show_spinner=False, max_entries=1)
def sample_photo() -> bytes:
    "scikit-image's astronaut (Eileen Collins, NASA, public domain), as PNG bytes."
    from skimage import data
    buf = io.BytesIO(); Image.fromarray(data.astronaut()).save(buf, 'PNG')
    return buf.getvalue()


def png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO(); Image.fromarray(rgb).save(buf, 'PNG')
    return buf.getvalue()


def settings() -> dict:
    with st.sidebar:
        st.header('Settings')
        names = list(DETECTORS)
        det = st.selectbox('Face detector', names, index=names.index(DEFAULT_DETECTOR),
                           help='The default is the best trade of accuracy and speed measured on real photos.')
        thr = st.slider('Detection threshold', 0.0, 1.0, 0.5, 0.05,
                        help='Higher: fewer false faces, more missed faces.')
        unc = st.slider('Uncertainty threshold', 0.0, 1.0, 0.5, 0.05,
                        help='A face whose top emotion has a lower probability is marked "uncertain".')
        lmk = st.checkbox('Show landmarks', value=False)
        exp = st.checkbox('Explain each face (Grad-CAM)', value=True)
    return dict(detector=det, threshold=thr, uncertainty=unc, landmarks=lmk, explain=exp)


def show_face(i: int, face, rec, opts: dict) -> None:
    cols = st.columns([1, 1, 2])
    cols[0].image(np.repeat(face.crop[..., None], 3, 2), caption=f'face {i}: what the model saw', width=120)
    if opts['explain']:
        cols[1].image(overlay(face.crop, gradcam(rec.model, face.crop)), caption='where it looked', width=120)
    verdict = f'**{face.emotion}** ({face.probabilities[face.emotion]:.0%})'
    if face.uncertain: verdict += ' — *uncertain: the model is not sure; read the bars*'
    with cols[2]:
        st.markdown(f'Face {i}: {verdict}')
        for label in LABELS:
            st.progress(face.probabilities[label], text=f'{label} {face.probabilities[label]:.0%}')
        if face.note: st.caption(face.note)


def analyse(name: str, data: bytes, opts: dict) -> list[dict]:
    "Show one photo's results; returns its rows for the summary table (none if refused)."
    st.subheader(name)
    try:
        rgb = read_image(data)
        rec = recognizer(opts['detector'])
        faces = rec(rgb, threshold=opts['threshold'], uncertainty=opts['uncertainty'], landmarks=opts['landmarks'])
    except FerError as e:
        st.error(f'{name}: {e}')
        return []
    if not faces:
        st.warning(f'{name}: no face found. Try a photo where the face is larger, frontal and well lit '
                   '(at least about 40 pixels across), or lower the detection threshold in the settings.')
        st.image(rgb, width=320)
        return []
    drawn = annotate(rgb, faces, landmarks=opts['landmarks'])
    st.markdown(f'{len(faces)} face(s) found')
    st.image(drawn, use_container_width=True)
    st.download_button('Download the annotated image', png_bytes(drawn), file_name=f'{name.rsplit(".", 1)[0]}_annotated.png',
                       mime='image/png', key=f'png-{name}')
    for i, f in enumerate(faces, 1): show_face(i, f, rec, opts)
    return [dict(image=name, face=i, **f.to_dict()) for i, f in enumerate(faces, 1)]


def photos_tab(opts: dict) -> None:
    st.markdown('Upload one or several photos: every face is found, boxed and labelled with its emotion '
                f'and how sure the model is. Accepted: JPEG, PNG, WebP, BMP; at most {LIMIT}.')
    uploads = st.file_uploader('Photos', type=EXTENSIONS, accept_multiple_files=True, label_visibility='collapsed')
    if st.button('Try a sample photo'): st.session_state['sample'] = True
    items = [(u.name, u.getvalue()) for u in uploads or []]
    if st.session_state.get('sample'): items.insert(0, ('astronaut.png', sample_photo()))
    if not items:
        st.info('No photo yet: upload one, or try the sample photo.')
        return
    rows = []
    for name, data in items: rows += analyse(name, data, opts)
    if rows:
        st.subheader('Summary')
        table = pd.DataFrame([{'image': r['image'], 'face': r['face'], 'emotion': r['emotion'],
                               'confidence': r['probabilities'][r['emotion']], 'uncertain': r['uncertain'],
                               **{l: r['probabilities'][l] for l in LABELS}, 'box': r['box']} for r in rows])
        st.dataframe(table, hide_index=True)
        c1, c2 = st.columns(2)
        c1.download_button('Download results (CSV)', table.to_csv(index=False), 'emotions.csv', 'text/csv')
        c2.download_button('Download results (JSON)', json.dumps(rows, indent=1), 'emotions.json', 'application/json')


def webcam_tab(opts: dict) -> None:
    st.markdown('Label faces live from your webcam (works on localhost; frames stay in this browser and server).')
    if webrtc_streamer is None:
        st.warning('The webcam needs streamlit-webrtc, which is not installed.'); return
    if not st.toggle('Start the webcam'): return
    rec = recognizer(opts['detector'])

    def callback(frame):
        rgb = frame.to_ndarray(format='rgb24')
        faces = rec(rgb, threshold=opts['threshold'], uncertainty=opts['uncertainty'])
        return av.VideoFrame.from_ndarray(annotate(rgb, faces), format='rgb24')

    webrtc_streamer(key='webcam', video_frame_callback=callback, rtc_configuration={'iceServers': []},
                    media_stream_constraints={'video': True, 'audio': False}, async_processing=True)


def about_tab() -> None:
    st.markdown(f"""
### Intended uses
- **Healthcare**: a clinician reviewing patients' photos for signs of affect, as one input among many.
- **Education**: studying the engagement of a classroom in research with consent.
- **Customer service**: reviewing the quality of recorded interactions in aggregate.
- **Research**: a reproducible baseline for facial expression recognition on CPUs.

### Limits
- The seven labels are a simplification: people feel mixtures and many states without a label here.
- A facial expression is not a feeling: posed and spontaneous expressions differ, and the training data
  (FER-2013) is mostly posed or staged web images; accuracy on its PublicTest faces is {ACCURACY:.0%}, not certainty.
- Accuracy differs across ages, skin tones, cultures and head poses; small, side-on, dark or blurred faces are often
  missed or misread. Never use the output alone to make decisions about a person.
- "Uncertain" marks faces where the calibrated top probability is below your threshold.

### Privacy
Images are processed in memory by this server and are never written to disk, logged or sent anywhere; no usage
statistics leave the machine. Closing the page discards them. Limit per image: {LIMIT}.
""")


def main() -> None:
    st.title('Faces and their emotions')
    opts = settings()
    photos, webcam, about = st.tabs(['Photos', 'Webcam', 'About, limits and privacy'])
    with photos: photos_tab(opts)
    with webcam: webcam_tab(opts)
    with about: about_tab()


main()
