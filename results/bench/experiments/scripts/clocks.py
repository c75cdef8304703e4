# SM clock and board power while each kernel runs back to back for ~4 s (D=128 N=16384/32768 fp16 non-causal).
import sys, time, subprocess, threading, statistics, json, torch
sys.path.insert(0, 'runtime/python')
import sagegen
from sagegen import Phase, _lib
from torch.nn.attention import sdpa_kernel, SDPBackend
_lib.load_library(sys.argv[1])
def sample(stop, out):
    while not stop.is_set():
        r = subprocess.run(['nvidia-smi', '--query-gpu=clocks.sm,power.draw,temperature.gpu', '--format=csv,noheader,nounits'], capture_output=True, text=True).stdout.strip().split(',')
        out.append([float(x) for x in r]); time.sleep(0.05)
res = []
for n in (16384, 32768):
    q, k, v = [torch.randn(4, 32, n, 128, device='cuda', dtype=torch.float16) for _ in range(3)]
    run, o, _ = sagegen.prepare(q, k, v, 'HND', False)
    def fa2():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            torch.nn.functional.scaled_dot_product_attention(q, k, v)
    for name, fn in (('sagegen kernel', lambda: run(Phase.ATTENTION)), ('torch flash', fa2), ('sagegen kernel again', lambda: run(Phase.ATTENTION))):
        fn(); torch.cuda.synchronize(); time.sleep(2.0)  # cool down a little between kernels
        stop, s = threading.Event(), []
        t = threading.Thread(target=sample, args=(stop, s)); t.start()
        t0 = time.time(); reps = 0
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record()
        while time.time() - t0 < 4.0:
            fn(); reps += 1
            if reps % 4 == 0: torch.cuda.synchronize()
        b.record(); b.synchronize(); stop.set(); t.join()
        ms = a.elapsed_time(b) / reps
        tops = 4 * 4 * 32 * n * n * 128 / (ms * 1e-3) / 1e12
        half = s[len(s) // 3:]
        row = dict(n=n, kernel=name, ms=ms, tops=tops, sm_mhz_median=statistics.median(x[0] for x in half), power_w_median=statistics.median(x[1] for x in half), temp_c_max=max(x[2] for x in s), samples=len(s))
        res.append(row); print(row, flush=True)
    del q, k, v, run, o
json.dump(res, open(sys.argv[2], 'w'), indent=1)
