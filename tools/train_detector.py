"""Retrain our face detector from scratch and measure every backend, in one command.

1. `detect_train.train_detector`: builds the stress sets, sweeps every backend over them (kept in
   `$FER_EMOTION_WORK/sweeps`, by default `runs/sweeps`; a few hours on 2 cores the first time, MTCNN and dlib's
   MMOD most of it; an interrupted run resumes from what is kept there), fits each backend's box and score
   calibration, trains the verifier with its four-fold cross-validation and the fusion cards, and writes
   `fer_emotion/models/face_verifier.npz`, `own_detector.json` and `detector_calibration.json`;
2. `detect_eval.compare_detectors`: the comparison table and recall by face size of every backend on every stress set
   (`nbs/figures/detector_comparison.csv`, `detector_by_size.csv`);
3. `detect_eval.time_detector`: milliseconds per 640 x 480 photo of every backend (`nbs/figures/detector_times.csv`).

YuNet joins when its ONNX file is found (`$FER_EMOTION_YUNET`, else `../shared/models/face_detection_yunet.onnx`).
A run with `--backends` writes the calibration and fusion files with those backends and the fused kinds made of them
only: compare the files with git before keeping them.
Usage: python tools/train_detector.py [--backends NAME ...]   (needs the development data)
"""
import argparse, json, os
from pathlib import Path
import pandas as pd
from fer_emotion.core import PROJECT_DIR, data_dir, work_dir

FIGURES = PROJECT_DIR/'nbs'/'figures'

def main(backends: list[str] | None = None) -> None:
    from fer_emotion.detect_data import stress_sets
    from fer_emotion.detect_eval import compare_detectors, time_detector
    from fer_emotion.detect_train import BACKENDS, KINDS, sweeps, train_detector
    yunet = Path(os.environ.get('FER_EMOTION_YUNET', data_dir().parent/'models'/'face_detection_yunet.onnx'))
    backends = [b for b in backends or BACKENDS if b != 'yunet' or yunet.is_file()]
    if 'yunet' in backends: os.environ['FER_EMOTION_YUNET'] = str(yunet)
    else: os.environ.pop('FER_EMOTION_YUNET', None)   # the `ensemble` then asks for no YuNet card this run did not fit
    kinds = {k: m for k, m in KINDS.items() if set(m) <= set(backends)}
    sets = stress_sets()
    res = train_detector(sets, backends, kinds)
    print({k: {f: c[f] for f in ('members', 'threshold')} for k, c in res['fusion'].items()}, flush=True)
    folder = work_dir('sweeps')
    cv = {k: {s: json.loads((folder/f'cv_{k}_{s}.json').read_text()) for s in sets} for k in kinds}
    rows, by_size = compare_detectors(sets, sweeps(backends, sets), res['calibration'], cv)
    pd.DataFrame(rows).round(4).to_csv(FIGURES/'detector_comparison.csv', index=False)
    pd.DataFrame(by_size).round(4).to_csv(FIGURES/'detector_by_size.csv', index=False)
    photos = [p.rgb for p in list(sets['fddb'].values())[:30]]
    times = [dict(detector=d, **time_detector(d, photos[:3 if d == 'dlib_mmod' else 10 if 'mtcnn' in [d, *kinds.get(d, [])] else 30], (640, 480)))
             for d in [*backends, *(k for k in kinds if k != 'ensemble_yunet')]]
    pd.DataFrame(times).round(2).to_csv(FIGURES/'detector_times.csv', index=False)
    print(pd.DataFrame(rows).query("folds == '1-4'").round(3).to_string(), flush=True)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--backends', nargs='*', help='only these backends (default: all)')
    main(p.parse_args().backends)
