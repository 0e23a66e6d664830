"""Train networks of the shipped recipe side by side on one GPU (Keras on JAX), one process per seed.

From the repository root, on a machine with a GPU and FER-2013 under `$FER_EMOTION_DATA/fer2013`:

    KERAS_BACKEND=jax python tools/gpu_train.py OUT EPOCHS SEED [SEED ...]

Each seed runs `train_member` (the code `fer-emotion train` runs on a CPU) into `OUT/seed<k>`. About 1.8 s an
epoch on one H200, two processes at once. To ship seed 0's network, copy `OUT/seed0` to `runs/shipped` and run
`fer-emotion train` on any machine: it finds both stages finished, evaluates, calibrates and saves the model.
"""
import os, subprocess, sys
from pathlib import Path

def train(out: Path, epochs: int, seed: int):
    from fer_emotion.core import data_dir
    from fer_emotion.data import load_image_folder
    from fer_emotion.train import train_member
    root = data_dir()/'fer2013'
    X, y, _ = load_image_folder(root/'train'); Xv, yv, _ = load_image_folder(root/'validation')
    train_member(out/f'seed{seed}', X, y, Xv, yv, seed=seed, epochs=epochs)

if __name__ == '__main__':
    out, epochs, seeds = Path(sys.argv[1]), int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
    if os.environ.get('GPU_TRAIN_SEED'): train(out, epochs, int(os.environ['GPU_TRAIN_SEED'])); sys.exit()
    out.mkdir(parents=True, exist_ok=True)
    procs = [subprocess.Popen([sys.executable, __file__, *sys.argv[1:]], stdout=open(out/f'seed{k}.log', 'w'),
                              stderr=subprocess.STDOUT,
                              env=dict(os.environ, GPU_TRAIN_SEED=str(k), XLA_PYTHON_CLIENT_PREALLOCATE='false'))
             for k in seeds]
    sys.exit(max(p.wait() for p in procs))
