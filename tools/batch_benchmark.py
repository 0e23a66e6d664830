"""Photos per second and memory of `fer-emotion batch` with 1 and 2 workers, `predict --json`'s memory, and what that
means on a cluster. Not a test: the figures depend on the machine and on what else runs on it.

    python tools/batch_benchmark.py                    # 200 and 2,000 photos, 1 and 2 workers, predict
    python tools/batch_benchmark.py --sizes 200 --no-predict

The photos are FDDB's development photos (`face_detection/fddb_folds_1-4/images`, 1,122 of them), linked as many
times as needed under distinct names. Each run is the real command in its own process: `fer-emotion batch --workers W`
into a fresh folder. Photos per second are counted two ways: over the whole command (Ray's start and the workers'
model loading included) and in the steady state (between the first and the last result file written; each file's
time is its modification time). Memory per worker is each Ray worker's peak resident memory (`VmHWM`), read from
/proc while it runs, and so is the command's own process (the driver). The load average of the
machine is recorded before and after each run (the machine is shared). Results: `nbs/figures/batch_benchmark.json`.
"""
import argparse, json, os, subprocess, sys, tempfile, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT/'nbs'/'figures'/'batch_benchmark.json'
BIN = Path(sys.executable).parent

def photos(n: int, folder: Path) -> Path:
    "A folder of `n` links to FDDB's development photos (repeated as needed)."
    from fer_emotion.core import data_dir
    src = sorted((data_dir()/'face_detection'/'fddb_folds_1-4'/'images').glob('*.jpg'))
    d = folder/f'photos_{n}'; d.mkdir()
    for i in range(n): os.symlink(src[i % len(src)], d/f'{i // len(src)}_{src[i % len(src)].name}')
    return d

def _status(pid: int) -> dict:
    with open(f'/proc/{pid}/status') as f: return {k: v.split()[0] for k, v in (l.split(':', 1) for l in f) if k in ('VmHWM', 'VmRSS')}

def _cpu_s(pid: int) -> float:
    with open(f'/proc/{pid}/stat') as f: fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')

class WorkerWatch(threading.Thread):
    "Every 0.5 s: the peak resident memory (MB) and CPU seconds of the command (`driver`) and of each Ray scoring worker it started, and each worker's resident memory over time (`trace`)."
    def __init__(self, driver: int):
        super().__init__(daemon=True)
        self.stop, self.driver, self.seen, self.driver_mb = threading.Event(), str(driver), {}, 0.0
        self.old = {pid for pid in os.listdir('/proc') if pid.isdigit()}      # workers of an earlier run still exiting
    def run(self):
        while not self.stop.wait(0.5):
            for pid in filter(str.isdigit, os.listdir('/proc')):
                try:
                    if pid == self.driver: self.driver_mb = int(_status(int(pid))['VmHWM']) / 1024; continue
                    if pid in self.old or b'MapBatches(Scorer)' not in Path(f'/proc/{pid}/cmdline').read_bytes(): continue
                    st = _status(int(pid))
                    w = self.seen.setdefault(pid, dict(trace=[]))
                    w.update(peak_mb=int(st['VmHWM']) / 1024, cpu_s=_cpu_s(int(pid))); w['trace'].append(int(st['VmRSS']) / 1024)
                except (OSError, KeyError): continue

def load() -> float: return os.getloadavg()[0]

def run_cmd(args: list[str]) -> tuple[float, WorkerWatch, int]:
    "Wall seconds, what the watcher saw, and the exit status of the command `args`."
    t = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = WorkerWatch(p.pid); watch.start()
    code = p.wait()
    watch.stop.set(); watch.join()
    return time.monotonic() - t, watch, code

def quarters(trace: list[float]) -> list[int]:
    "The highest resident memory (MB) in each quarter of a worker's life: equal last quarters mean memory has levelled off."
    n = len(trace)
    return [round(max(trace[n * q // 4:max(n * (q + 1) // 4, n * q // 4 + 1)])) for q in range(4)] if n else []

def bench_batch(folder: Path, workers: int, tmp: Path) -> dict:
    import pyarrow.parquet as pq
    out, load0 = tmp/f'out_{folder.name}_{workers}', load()
    wall, watch, code = run_cmd([str(BIN/'fer-emotion'), 'batch', str(folder), '--out', str(out), '--workers', str(workers)])
    files = sorted((f.stat().st_mtime, pq.read_table(f, columns=['image']).column('image').to_pylist()) for f in out.glob('*.parquet'))
    n = sum(len(set(images)) for _, images in files)
    steady = (n - len(set(files[0][1]))) / (files[-1][0] - files[0][0]) if len(files) > 1 else float('nan')
    ws = list(watch.seen.values())
    return dict(photos=n, workers=workers, exit=code, wall_s=round(wall, 1), photos_per_s=round(n / wall, 2),
                steady_photos_per_s=round(steady, 2), files=len(files), driver_peak_mb=round(watch.driver_mb),
                worker_peak_mb=[round(w['peak_mb']) for w in ws], worker_cpu_s=[round(w['cpu_s'], 1) for w in ws],
                worker_rss_mb_by_quarter=[quarters(w['trace']) for w in ws],
                load_before=round(load0, 2), load_after=round(load(), 2))

def bench_predict(folder: Path) -> dict:
    load0 = load()
    wall, watch, code = run_cmd([str(BIN/'fer-emotion'), 'predict', str(folder), '--json'])
    return dict(photos=len(os.listdir(folder)), wall_s=round(wall, 1), peak_mb=round(watch.driver_mb), exit=code,
                load_before=round(load0, 2), load_after=round(load(), 2))

def _spin(n: int) -> None:
    while n: n -= 1

def control(n: int = 30_000_000) -> dict:
    "What the machine gives right now to a purely CPU-bound job in 1 and in 2 processes: the best any 2-worker ratio can be."
    import multiprocessing as mp
    t = {}
    for k in (1, 2):
        ps = [mp.Process(target=_spin, args=(n,)) for _ in range(k)]
        t0 = time.monotonic(); [p.start() for p in ps]; [p.join() for p in ps]; t[k] = time.monotonic() - t0
    return dict(one_s=round(t[1], 2), two_s=round(t[2], 2), ratio_2_to_1=round(2 * t[1] / t[2], 2), load=round(load(), 2))

def summary(res: dict) -> dict:
    "The 2-to-1 ratios on the largest run, and hours for 10^6 and 10^7 photos on machines x cores, two ways: at the rate and scaling measured here (on a shared machine), and at the CPU seconds a photo cost a worker (every core free)."
    big = max(r['photos'] for r in res['batch'])
    one, two = (next(r for r in res['batch'] if r['photos'] == big and r['workers'] == w) for w in (1, 2))
    ratio = two['steady_photos_per_s'] / one['steady_photos_per_s']
    cpu_s = sum(two['worker_cpu_s']) / big                    # worker CPU per photo (its model loading included)
    hours = lambda n, per_s: round(n / per_s / 3600, 2)
    return dict(ratio_2_to_1_steady=round(ratio, 2), ratio_2_to_1_whole_command=round(two['photos_per_s'] / one['photos_per_s'], 2),
                worker_cpu_ms_per_photo=round(1000 * cpu_s, 1),
                cluster=[dict(machines=m, cores=c, **{f'hours_{n:.0e}_{k}': hours(n, per_s) for n in (1e6, 1e7) for k, per_s in
                              (('as_measured', one['steady_photos_per_s'] * m * c * min(1.0, ratio / 2)), ('free_cores', m * c / cpu_s))})
                         for m, c in ((1, 2), (1, 16), (10, 16), (100, 16))])

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--sizes', type=int, nargs='+', default=[200, 2000]); ap.add_argument('--no-predict', action='store_true')
    ap.add_argument('--redo-summary', action='store_true', help='add a control to the stored results and recompute their summary')
    a = ap.parse_args()
    if a.redo_summary: res = json.loads(OUT.read_text()); res['control'] = res.get('control', []) + [control()]
    else:
        res = dict(machine=dict(cpus=os.cpu_count(), uptime=subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()),
                   batch=[], predict=[], control=[control()])
        with tempfile.TemporaryDirectory() as d:
            for n in a.sizes:
                folder = photos(n, Path(d))
                for w in (1, 2):
                    res['batch'].append(r := bench_batch(folder, w, Path(d))); print(json.dumps(r), flush=True)
                if not a.no_predict: res['predict'].append(r := bench_predict(folder)); print(json.dumps(r), flush=True)
        res['control'].append(control())
    res.update(summary(res))
    OUT.write_text(json.dumps(res, indent=1) + '\n')
    print(json.dumps({k: v for k, v in res.items() if k not in ('batch', 'predict')}, indent=1))

if __name__ == '__main__': main()
