"""Peer of verify_peer.rs: what onnxruntime needs to run the unfused and the fused graph once each on the same inputs.

Usage: python3 verify_ort.py UNFUSED.onnx FUSED.onnx THREADS [INPUTS]
Prints one JSON line: {"total_s": ..., "run_s": ..., "ort": version}: total = both sessions created (all graph
optimizations, THREADS intra-op threads) and each run once per input (INPUTS random inputs, default 2: as many as
trt-onnx's check runs, one random and one image-like); run = the runs alone.
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort

unfused, fused, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
inputs = int(sys.argv[4]) if len(sys.argv) > 4 else 2
t0 = time.perf_counter()
run_s = 0.0
outputs = []
xs = None
for path in (unfused, fused):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    if xs is None:
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        rng = np.random.default_rng(0)
        xs = [rng.random(shape, dtype=np.float32) for _ in range(inputs)]
    for x in xs:
        t = time.perf_counter()
        outputs.append(s.run(None, {i.name: x}))
        run_s += time.perf_counter() - t
total = time.perf_counter() - t0
print(json.dumps({"total_s": total, "run_s": run_s, "ort": ort.__version__}))
