# Wave quantization probe (results/bench/experiments/waves-probe-d128.json): kernel-only time per head at B=4, N=4096, H around 32 (4096 CTAs = 15.52 waves of 264).
import sys, statistics, torch, json
sys.path.insert(0, 'runtime/python')
import sagegen
from sagegen import Phase, _lib
_lib.load_library(sys.argv[1])
res = []
for d, n in [(128, 4096), (128, 2048), (128, 8192)]:
    for H in (31, 32, 33, 34):
        q, k, v = [torch.randn(4, H, n, d, device='cuda', dtype=torch.float16) for _ in range(3)]
        run, o, _ = sagegen.prepare(q, k, v, 'HND', False)
        for _ in range(5): run(Phase.ALL)
        torch.cuda.synchronize()
        ts = []
        for _ in range(40):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record(); run(Phase.ATTENTION); b.record(); b.synchronize(); ts.append(a.elapsed_time(b))
        ms = statistics.median(ts)
        ctas = 4 * H * n // 128
        tops = 4 * 4 * H * n * n * d / (ms * 1e-3) / 1e12
        res.append(dict(d=d, n=n, H=H, ctas=ctas, waves=ctas / 264, ms=ms, tops=tops))
        print(f"D={d} N={n} H={H}: {ctas} CTAs = {ctas/264:.2f} waves, {ms:.3f} ms, {tops:.1f} TOP/s")
        del q, k, v, run, o
json.dump(res, open(sys.argv[2], 'w'), indent=1)
