"""Retrain our face detector from scratch, in one command: `detect_train.train_detector` on every stress set.

Sweeps every backend over the stress sets (kept in `$FER_EMOTION_WORK/sweeps`, by default `runs/sweeps`; a few hours
on 2 cores the first time, dlib's MMOD and MTCNN most of it), fits each backend's box and score calibration, trains
the verifier with its four-fold cross-validation and the fusion cards, and writes `fer_emotion/models/
face_verifier.npz`, `own_detector.json`, `detector_calibration.json` and the cross-validated boxes that
`09_detector_comparison` counts. YuNet joins when its ONNX file is found (`$FER_EMOTION_YUNET`, else
`../shared/models/face_detection_yunet.onnx`).

Usage: python tools/train_detector.py   (needs the development data)
"""
import os
from fer_emotion.core import data_dir

if __name__ == '__main__':
    os.environ.setdefault('FER_EMOTION_YUNET', str(data_dir().parent/'models'/'face_detection_yunet.onnx'))
    from fer_emotion.detect_data import stress_sets
    from fer_emotion.detect_train import BACKENDS, KINDS, train_detector
    has_yunet = os.path.isfile(os.environ['FER_EMOTION_YUNET'])
    backends = [b for b in BACKENDS if has_yunet or b != 'yunet']
    kinds = {k: m for k, m in KINDS.items() if has_yunet or 'yunet' not in m}
    res = train_detector(stress_sets(), backends, kinds)
    for kind, card in res['fusion'].items(): print(kind, card, flush=True)
