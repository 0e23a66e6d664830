"""fer_emotion's upload app: a thin page over `fer_emotion.pipeline` (no model logic here).

Run with `./run.sh app`. Uploaded images are processed in memory: nothing is written to disk or sent anywhere.
What the page adds to the package: each upload is keyed by its position and a hash of its bytes; results are kept in
this session's memory (bounded) so clicks and downloads do not recompute; large photos are analysed on a reduced copy;
boxes are drawn numbered, with labels placed to avoid each other; every failure is answered in words.
"""
import hashlib, io, json, logging, time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
import numpy as np
import pandas as pd
import streamlit as st
import cv2
from PIL import Image
# The webcam's WebRTC stack (aiortc -> pylibsrtp) must load before TensorFlow: imported after it, pylibsrtp's
# OpenSSL initialisation crashes the process (seen with tensorflow-cpu 2.19). So it is imported first, here.
try:
    import av
    from streamlit_webrtc import webrtc_streamer
except ImportError: webrtc_streamer = None

from fer_emotion.core import LABELS, FerError
from fer_emotion.image_input import MAX_BYTES, MAX_PIXELS, read_image, size_message
from fer_emotion.detect import DEFAULT_DETECTOR, MIN_SIDE, get_detector, shrink, usable_detectors
from fer_emotion.pipeline import COLOURS, Face, get_recognizer, gradcam, overlay
from fer_emotion.model import load_card

st.set_page_config(page_title='fer_emotion: faces and emotions', page_icon='🙂', layout='wide')
log = logging.getLogger('fer_emotion.app')
LIMIT = f'{MAX_BYTES // 2**20} MB and {MAX_PIXELS // 10**6} megapixels per image'
_card = load_card()
ACCURACY = _card['validation_accuracy'][f"{_card['stage']}_tta"]   # the shipped model's, with flip TTA, from its card
EXTENSIONS = ('jpg', 'jpeg', 'png', 'webp', 'bmp')
SIDE = 1600              # longer side of the copy a large photo is analysed and shown at (faces are found on it)
CACHE_PHOTOS, CACHE_BYTES = 64, 256 * 2**20   # the per-session memory of results: at most this many photos / bytes
UNCERTAIN_HELP = ('"?" after a label: the model is unsure of that face (its top probability is below the '
                  'uncertainty threshold in the settings); read its bars below.')


@st.cache_resource(show_spinner='Loading the models (once per server)...')
def recognizer(detector: str):
    return get_recognizer(detector)


@st.cache_resource(show_spinner=False)
def detectors() -> dict[str, str]:
    "The usable detector backends, default first, each with its description in plain words."
    return usable_detectors()


@st.cache_data(show_spinner=False, max_entries=1)
def sample_photo() -> bytes:
    "scikit-image's astronaut (Eileen Collins, NASA, public domain), as PNG bytes."
    from skimage import data
    buf = io.BytesIO(); Image.fromarray(data.astronaut()).save(buf, 'PNG')
    return buf.getvalue()


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO(); Image.fromarray(rgb).save(buf, 'JPEG', quality=quality)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------------------
# Drawing: numbered boxes whose labels avoid each other where they can.

def _overlap(a, b) -> float:
    "Area shared by two rectangles `(x0, y0, x1, y1)`."
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def place_labels(rects, sizes, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Where each box's label goes, `(x0, y0, x1, y1)`: of the spots above the box, below it or inside it (left or right
    aligned), kept inside the image, the one covering the least of the labels already placed and of the other boxes."""
    placed = []
    for i, ((x0, y0, x1, y1), (lw, lh)) in enumerate(zip(rects, sizes)):
        spots = [(x0, y0 - lh), (x0, y1), (x0, y0), (x1 - lw, y0 - lh), (x1 - lw, y1), (x1 - lw, y1 - lh), (x0, y1 - lh)]
        best, cost = None, None
        for k, (lx, ly) in enumerate(spots):
            lx, ly = min(max(lx, 0), max(width - lw, 0)), min(max(ly, 0), max(height - lh, 0))
            rect = (lx, ly, lx + lw, ly + lh)
            c = (10 * sum(_overlap(rect, p) for p in placed)
                 + sum(_overlap(rect, o) for j, o in enumerate(rects) if j != i) + k)
            if cost is None or c < cost: best, cost = rect, c
        placed.append(best)
    return placed


def draw(rgb: np.ndarray, boxes, labels, colours, points=None) -> np.ndarray:
    "A copy of `rgb` with each box and its label drawn (labels placed by `place_labels`), and landmarks if given."
    out = rgb.copy(); H, W = out.shape[:2]
    t = max(1, round(max(H, W) / 600)); font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.5 * t
    rects = [(int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h))) for x, y, w, h in boxes]
    for r, c in zip(rects, colours): cv2.rectangle(out, r[:2], r[2:], c, t)
    texts = [cv2.getTextSize(label, font, scale, t) for label in labels]
    spots = place_labels(rects, [(tw + 4 * t, th + base + 4 * t) for (tw, th), base in texts], W, H)
    for spot, label, c, (_, base) in zip(spots, labels, colours, texts):
        cv2.rectangle(out, spot[:2], (spot[2] - 1, spot[3] - 1), c, -1)
        cv2.putText(out, label, (spot[0] + 2 * t, spot[3] - base - 2 * t), font, scale, (255, 255, 255), t, cv2.LINE_AA)
    for pts in points or []:
        if pts is not None:
            for px, py in np.asarray(pts).astype(int): cv2.circle(out, (int(px), int(py)), t, (0, 255, 0), -1)
    return out


def face_label(n: int, face: Face) -> str:
    return f'{n} {face.emotion} {face.probabilities[face.emotion]:.0%}' + ('?' if face.uncertain else '')


# ---------------------------------------------------------------------------------------------------------------------
# Analysis and its per-session memory.

@dataclass
class Analysis:
    "One photo analysed under one setting: faces in the photo's pixels (left to right), or the reason it was refused."
    refusal: str = ''
    size: tuple = (0, 0)                 # the photo's (width, height)
    scale: float = 1.0                   # the shown copy is the photo scaled by this
    view: bytes = b''                    # the shown copy as JPEG (without drawings)
    faces: list = field(default_factory=list)
    seconds: float = 0.0
    cams: list | None = None             # Grad-CAM overlays, made when first asked for
    drawn: dict = field(default_factory=dict)   # (uncertainty, landmarks) -> annotated JPEG, the latest two

    def nbytes(self) -> int:
        return (len(self.view) + sum(len(v) for v in self.drawn.values()) + 3000 * len(self.faces)
                + sum(c.nbytes for c in self.cams or []))


def memory() -> OrderedDict:
    "This session's results, most recently used last; dropped with the session, never written anywhere."
    return st.session_state.setdefault('results', OrderedDict())


def remember(key, result: Analysis) -> None:
    mem = memory(); mem[key] = result; mem.move_to_end(key)
    while len(mem) > CACHE_PHOTOS or (len(mem) > 1 and sum(a.nbytes() for a in mem.values()) > CACHE_BYTES):
        mem.popitem(last=False)


def refusal(name: str, data: bytes) -> str:
    "The app's own limits, in words: '' when the file may be read."
    if len(data) > MAX_BYTES:
        return size_message(len(data)) + ' Send a smaller copy (most phones can share a photo at a reduced size).'
    if name.rsplit('.', 1)[-1].lower() not in EXTENSIONS or '.' not in name:
        return ('This type of file is not accepted: upload a JPEG, PNG, WebP or BMP photo '
                '(a name ending in .jpg, .jpeg, .png, .webp or .bmp).')
    return ''


def analyse(name: str, data: bytes, opts: dict) -> Analysis:
    "Read, detect (on a reduced copy of a large photo) and classify one photo."
    start = time.perf_counter()
    why = refusal(name, data)
    if why: return Analysis(refusal=why)
    try: rgb = read_image(data)
    except FerError as e: return Analysis(refusal=str(e))
    H, W = rgb.shape[:2]; view, s = shrink(rgb, SIDE)
    rec = recognizer(opts['detector'])
    faces = rec(view, threshold=opts['threshold'], landmarks=opts['landmarks'])
    faces = [replace(f, box=tuple(v / s for v in f.box), landmarks=None if f.landmarks is None else f.landmarks / s)
             for f in sorted(faces, key=lambda f: f.box[0] + f.box[2] / 2)]
    return Analysis(size=(W, H), scale=s, view=jpeg_bytes(view, 92), faces=faces, seconds=time.perf_counter() - start)


def result_key(digest: str, opts: dict) -> tuple:
    "What a photo's result depends on: its bytes and the settings that change detection or classification."
    return digest, opts['detector'], round(float(opts['threshold']), 4), bool(opts['landmarks'])


def with_uncertainty(faces: list[Face], uncertainty: float) -> list[Face]:
    "The faces marked uncertain under this threshold (it changes only the mark, so it needs no new analysis)."
    return [replace(f, uncertain=bool(max(f.probabilities.values()) < uncertainty)) for f in faces]


def annotated(a: Analysis, faces: list[Face], opts: dict) -> bytes:
    key = (round(float(opts['uncertainty']), 4), bool(opts['landmarks']))
    if key not in a.drawn:
        view = np.asarray(Image.open(io.BytesIO(a.view)).convert('RGB'))
        s = a.scale
        drawn = draw(view, [tuple(v * s for v in f.box) for f in faces], [face_label(n, f) for n, f in enumerate(faces, 1)],
                     [COLOURS[f.emotion] for f in faces],
                     [None if f.landmarks is None else f.landmarks * s for f in faces] if opts['landmarks'] else None)
        while len(a.drawn) >= 2: a.drawn.pop(next(iter(a.drawn)))
        a.drawn[key] = jpeg_bytes(drawn, 92)
    return a.drawn[key]


# ---------------------------------------------------------------------------------------------------------------------
# The page.

def plain_name(name: str, description: str) -> str:
    "A detector's name in plain words: its description up to the colon ('Ours' for the default is made explicit)."
    short = description.split(':')[0]
    return f'{short} (default)' if name == DEFAULT_DETECTOR else short


def settings() -> dict:
    with st.sidebar:
        st.header('Settings')
        names = detectors()
        det = st.selectbox('Face detector', list(names), index=list(names).index(DEFAULT_DETECTOR) if DEFAULT_DETECTOR in names else 0,
                           format_func=lambda n: plain_name(n, names[n]), key='detector',
                           help='The first is the default: the best trade of accuracy and speed measured on real photos.')
        st.caption(names[det])
        try: tuned = float(min(max(get_detector(det).threshold, 0.0), 1.0))
        except Exception:
            log.exception('detector %s could not be loaded', det); tuned = 0.5
        thr = st.slider('Detection threshold', 0.0, 1.0, tuned, 0.01, key=f'threshold-{det}', format='%.2f',
                        help="How sure the detector must be (a probability) that a box is a face. Higher: fewer false "
                             f"faces, more missed faces. Starts at this detector's tuned value ({tuned:.2f}).")
        unc = st.slider('Uncertainty threshold', 0.0, 1.0, 0.5, 0.05, key='uncertainty',
                        help='A face whose top emotion has a lower probability is marked uncertain ("?").')
        lmk = st.checkbox('Show landmarks', value=False, key='landmarks')
        exp = st.checkbox('Explain each face (Grad-CAM)', value=True, key='explain')
    return dict(detector=det, threshold=thr, uncertainty=unc, landmarks=lmk, explain=exp)


def show_face(n: int, face: Face, cam, opts: dict) -> None:
    cols = st.columns([1, 1, 2])
    cols[0].image(np.repeat(face.crop[..., None], 3, 2), caption=f'face {n}: what the model saw', width=120)
    if cam is not None: cols[1].image(cam, caption='where it looked', width=120)
    verdict = f'**{face.emotion}** {face.probabilities[face.emotion]:.0%}'
    if face.uncertain: verdict += ' ? — *uncertain: the model is not sure; read the bars*'
    with cols[2]:
        st.markdown(f'Face {n}: {verdict}')
        for label in LABELS:
            st.progress(face.probabilities[label], text=f'{label} {face.probabilities[label]:.0%}')
        if face.note: st.caption(face.note)


def show_photo(pos: int, name: str, digest: str, a: Analysis, opts: dict) -> list[dict]:
    "One photo's results on the page; returns its rows for the summary (none if refused or without faces)."
    if a.refusal:
        st.error(a.refusal); return []
    faces = with_uncertainty(a.faces, opts['uncertainty'])
    if not faces:
        if min(a.size) * a.scale < MIN_SIDE:       # a sliver: nothing to see (and Streamlit would shrink it to 0 px)
            st.warning(f'No face found: this image ({a.size[0]:,} x {a.size[1]:,} pixels) is too thin to hold a face.')
            return []
        st.warning('No face found. Try a photo where the face is larger, frontal and well lit '
                   '(at least about 40 pixels across), or lower the detection threshold in the settings.')
        st.image(a.view, width='content')
        return []
    st.markdown(f"{len(faces)} face{'s' if len(faces) > 1 else ''} found")
    drawn = annotated(a, faces, opts)
    st.image(drawn, width='content')
    st.caption(f'Boxes are numbered as the faces below. {UNCERTAIN_HELP}')
    stem = name.rsplit('.', 1)[0] or 'photo'
    st.download_button('Download the annotated image', drawn, file_name=f'{stem}_annotated.jpg', mime='image/jpeg',
                       key=f'dl-{pos}-{digest[:16]}', on_click='ignore')
    for n, f in enumerate(faces, 1): show_face(n, f, a.cams[n - 1] if opts['explain'] else None, opts)
    return [dict(photo=pos + 1, image=name, face=n, **f.to_dict()) for n, f in enumerate(faces, 1)]


def set_sample(on: bool) -> None: st.session_state['sample'] = on


def photos_tab(opts: dict) -> None:
    st.markdown('Upload one or several photos: every face is found, boxed and labelled with its emotion '
                f'and how sure the model is. Accepted: JPEG, PNG, WebP, BMP; at most {LIMIT}.')
    uploads = st.file_uploader('Photos', accept_multiple_files=True, label_visibility='collapsed', key='uploads')
    if st.session_state.get('sample'):
        st.button('Remove the sample photo', key='sample_remove', on_click=set_sample, args=(False,))
    else:
        st.button('Try a sample photo', key='sample_add', on_click=set_sample, args=(True,))
    items = [(u.name, u.getvalue()) for u in uploads or []]
    if st.session_state.get('sample'): items.insert(0, ('astronaut.png', sample_photo()))
    if not items:
        st.info('No photo yet: upload one, or try the sample photo.')
        return
    progress, rows, n = st.empty(), [], len(items)
    for pos, (name, data) in enumerate(items):
        digest = hashlib.sha256(data).hexdigest()
        st.subheader(f'Photo {pos + 1}' + (f' of {n}' if n > 1 else ''), anchor=False)
        st.text(name)                                     # the name as it is: never read as Markdown
        key = result_key(digest, opts)
        try:
            a = memory().get(key)
            if a is None:
                progress.progress(pos / n, text=f'Analysing photo {pos + 1} of {n}…')
                a = analyse(name, data, opts)
                remember(key, a)
            else: memory().move_to_end(key)
            if opts['explain'] and a.faces and a.cams is None:     # Grad-CAM: made once, when first asked for
                progress.progress(pos / n, text=f'Explaining the faces of photo {pos + 1} of {n}…')
                model = recognizer(opts['detector']).model
                a.cams = [overlay(f.crop, gradcam(model, f.crop)) for f in a.faces]
            rows += show_photo(pos, name, digest, a, opts)
        except Exception:
            log.exception('photo %d of %d could not be analysed', pos + 1, n)   # the trace for the server log, no name
            st.error('This photo could not be analysed: something went wrong on our side. Try again, or choose '
                     'another face detector in the settings.')
    progress.empty()
    if rows:
        st.subheader('Summary', anchor=False)
        table = pd.DataFrame([{'photo': r['photo'], 'image': r['image'], 'face': r['face'], 'emotion': r['emotion'],
                               'confidence': r['probabilities'][r['emotion']], 'uncertain': r['uncertain'],
                               **{l: r['probabilities'][l] for l in LABELS}, 'box': r['box']} for r in rows])
        shown = table.copy()
        pct = ['confidence', *LABELS]; shown[pct] = shown[pct] * 100
        st.dataframe(shown, hide_index=True,
                     column_config={c: st.column_config.NumberColumn(c, format='%.0f%%') for c in pct})
        c1, c2 = st.columns(2)
        c1.download_button('Download results (CSV)', table.to_csv(index=False), 'emotions.csv', 'text/csv',
                           key='dl-csv', on_click='ignore')
        c2.download_button('Download results (JSON)', json.dumps(rows, indent=1), 'emotions.json', 'application/json',
                           key='dl-json', on_click='ignore')


def webcam_tab(opts: dict) -> None:
    st.markdown('Label faces live from your webcam (works on localhost; frames stay in this browser and server).')
    if webrtc_streamer is None:
        st.warning('The webcam needs streamlit-webrtc, which is not installed.'); return
    if not st.toggle('Start the webcam'): return
    rec = recognizer(opts['detector'])

    def callback(frame):
        rgb = frame.to_ndarray(format='rgb24')
        faces = rec(rgb, threshold=opts['threshold'], uncertainty=opts['uncertainty'])
        faces = sorted(faces, key=lambda f: f.box[0] + f.box[2] / 2)
        out = draw(rgb, [f.box for f in faces], [face_label(n, f) for n, f in enumerate(faces, 1)],
                   [COLOURS[f.emotion] for f in faces])
        return av.VideoFrame.from_ndarray(out, format='rgb24')

    webrtc_streamer(key='webcam', video_frame_callback=callback, rtc_configuration={'iceServers': []},
                    media_stream_constraints={'video': True, 'audio': False}, async_processing=True)


def about_tab() -> None:
    st.markdown(f"""
### What it is for
- **Research** on facial expressions with people who gave their informed consent, outside workplaces and
  education institutions: for example a study's own photos, labelled and checked by the researchers.
- **A reproducible baseline** for facial expression recognition on ordinary CPUs.

### What it is not for
- **Workplaces and education institutions.** The EU AI Act (Regulation (EU) 2024/1689, Article 5(1)(f)) prohibits
  placing on the market or using AI systems that infer the emotions of people in the areas of workplace and
  education institutions, except for medical or safety reasons. So this app must not be used to watch employees,
  job candidates, pupils or students: no classroom-engagement monitoring, no review of call-centre or
  customer-service staff, no interview scoring.
- **Medical or safety uses**, the Act's only exception there, need their own validation and legal review first: this
  app is not a medical device and has been validated for neither.
- Decisions about a person: hiring, grading, credit, insurance, policing, border control or health decisions.
- Anyone who has not agreed to have their face analysed.

### Limits
- The seven labels are a simplification: people feel mixtures and many states without a label here.
- A facial expression is not a feeling: posed and spontaneous expressions differ, and the training data
  (FER-2013) is mostly posed or staged web images; accuracy on its PublicTest faces is {ACCURACY:.0%}, not certainty.
- Accuracy differs across ages, skin tones, cultures and head poses; small, side-on, dark or blurred faces are often
  missed or misread. Never use the output alone to make decisions about a person.
- {UNCERTAIN_HELP}

### Privacy
Images are processed in memory by this server and are never written to disk, logged or sent anywhere; no usage
statistics leave the machine. Results are kept in this page's memory (at most {CACHE_PHOTOS} photos) so that clicks
do not redo the work; they are discarded when you close the page. Limit per image: {LIMIT}.
""")


def main() -> None:
    "The page; any failure is answered in words here, its trace kept for the server log only."
    st.title('Faces and their emotions')
    opts = settings()
    photos, webcam, about = st.tabs(['Photos', 'Webcam', 'About, limits and privacy'])
    for tab, show, what in ((photos, lambda: photos_tab(opts), 'the photos'), (webcam, lambda: webcam_tab(opts), 'the webcam'),
                            (about, about_tab, 'this page')):
        with tab:
            try: show()
            except Exception:
                log.exception('%s failed', what)
                st.error(f'Something went wrong with {what} on our side; reload the page to try again.')


main()
