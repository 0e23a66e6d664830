"""Retrain our face detector from scratch: one command for the full-scale cells that the test suite skips.

Runs every cell, the `#| eval: false` ones included, of
1. `09_detector_comparison` up to its calibration cell: each backend swept over FDDB folds 1-4 (the sweeps are kept in
   /tmp/detector_sweeps; about 40 minutes on 2 cores the first time, dlib's MMOD most of it) and the box calibrations;
2. `08_own_detector`: the verifiers (each fold left out in turn, then all four folds), the fusion cards and the
   cross-validated boxes (about 25 minutes on 2 cores);
3. `09_detector_comparison` in full: the comparison table, curves and timings in `nbs/figures/`.

Usage: python tools/train_detector.py   (needs the development data; YuNet's file in ../shared/models for the comparison)
"""
from pathlib import Path
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.frontmatter import FrontmatterProc
from nbdev.process import NBProcessor

NBS = Path(__file__).resolve().parents[1]/'nbs'

def run(name: str, until: str | None = None) -> None:
    "Run every code cell of notebook `name`, stopping after the first cell whose source contains `until`."
    fn = NBS/f'{name}.ipynb'
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    if until: nb.cells = nb.cells[:next(i for i, c in enumerate(nb.cells) if until in c.source) + 1]
    with working_directory(NBS): CaptureShell(fn).run_all(nb, exc_stop=True)
    print(f'ran {name}' + (f' up to the cell with {until!r}' if until else ''), flush=True)

if __name__ == '__main__':
    run('09_detector_comparison', until='CALIBRATION_FILE.write_text')
    run('08_own_detector')
    run('09_detector_comparison')
