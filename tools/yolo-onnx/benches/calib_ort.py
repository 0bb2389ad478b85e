"""Peer of calib_bench.rs: the same calibration statistics with onnxruntime's calibration tools.

Usage: python3 calib_ort.py MODEL.onnx SAMPLES.npy THREADS
Prints one JSON line: {"minmax_images_per_s": ..., "entropy_images_per_s": ..., "samples": N, "ort": version}.
"""
import json
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization.calibrate import CalibrationDataReader, CalibrationMethod, create_calibrator

model, samples, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = np.load(samples)
name = None

_Orig = ort.SessionOptions


def _opts():
    # Same thread budget as the Rust side (tract runs on one thread).
    o = _Orig()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    return o


ort.SessionOptions = _opts


# onnxruntime's calibrators keep every image's activations until collect_data returns (the histogram one all of them:
# about 1 GB per image for the yolov7-sized model at 640), so the images go in chunks, as quantize_static's
# CalibMaxIntermediateOutputs option does; ranges and histograms accumulate over the calls (min/max ranges are
# identical to one call; entropy thresholds move a little, as with that option; the work is the same).
CHUNK = 4


class Reader(CalibrationDataReader):
    def __init__(self, input_name, start):
        self.i = start
        self.end = min(start + CHUNK, len(data))
        self.input_name = input_name

    def get_next(self):
        if self.i >= self.end:
            return None
        x = data[self.i : self.i + 1]
        self.i += 1
        return {self.input_name: x}


def run(method):
    with tempfile.TemporaryDirectory() as d:
        cal = create_calibrator(model, None, augmented_model_path=f"{d}/aug.onnx", calibrate_method=method)
        input_name = [i.name for i in cal.model.graph.input][0]
        t0 = time.perf_counter()
        for start in range(0, len(data), CHUNK):
            cal.collect_data(Reader(input_name, start))
        ranges = cal.compute_data()
        dt = time.perf_counter() - t0
        return len(data) / dt, len(ranges.data)


mm, n_mm = run(CalibrationMethod.MinMax)
en, n_en = run(CalibrationMethod.Entropy)
print(json.dumps({"minmax_images_per_s": mm, "entropy_images_per_s": en, "tensors": n_mm,
                  "samples": int(len(data)), "ort": ort.__version__}))
