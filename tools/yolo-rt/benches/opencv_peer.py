#!/usr/bin/env python3
"""OpenCV peer for `cargo bench -p yolo-rt`: times the same work as the Rust benchmarks.

letterbox: cv2.resize(INTER_LINEAR) + cv2.copyMakeBorder(114) + cv2.dnn.blobFromImage(1/255, swapRB)
decode:    numpy decode of a [1, 4+nc, N] YOLOv9 output + cv2.dnn.NMSBoxesBatched + mapping back.
Single thread (cv2.setNumThreads(1)). Prints one JSON object with median milliseconds of thread
CPU time (time.thread_time), the clock the Rust side reads too.
Needs: pip install opencv-python-headless numpy
"""
import argparse
import json
import time

import cv2
import numpy as np


def median_ms(fn, iters, repeats=7):
    """Median over `repeats` runs, in this thread's CPU time (as the Rust side measures)."""
    fn()  # warm up
    runs = []
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(iters):
            fn()
        runs.append((time.thread_time() - t0) / iters * 1e3)
    runs.sort()
    return runs[len(runs) // 2]


def letterbox(img, size):
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    res = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    dw, dh = size - nw, size - nh
    top, left = dh // 2, dw // 2
    pad = cv2.copyMakeBorder(res, top, dh - top, left, dw - left, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return cv2.dnn.blobFromImage(pad, 1 / 255.0, swapRB=True)


def decode(out, conf, iou, max_det, scale, pad_left, pad_top, src_w, src_h):
    p = out[0]
    scores = p[4:]
    cls = scores.argmax(0)
    best = scores[cls, np.arange(p.shape[1])]
    keep = best > conf
    xywh = p[:4, keep].T
    sc = best[keep]
    cl = cls[keep]
    boxes = np.empty_like(xywh)
    boxes[:, 0] = xywh[:, 0] - xywh[:, 2] / 2
    boxes[:, 1] = xywh[:, 1] - xywh[:, 3] / 2
    boxes[:, 2] = xywh[:, 2]
    boxes[:, 3] = xywh[:, 3]
    idx = cv2.dnn.NMSBoxesBatched(boxes, sc, cl, conf, iou, top_k=max_det)
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)[:max_det]
    b = boxes[idx]
    x1 = np.clip((b[:, 0] - pad_left) / scale, 0, src_w)
    y1 = np.clip((b[:, 1] - pad_top) / scale, 0, src_h)
    x2 = np.clip((b[:, 0] + b[:, 2] - pad_left) / scale, 0, src_w)
    y2 = np.clip((b[:, 1] + b[:, 3] - pad_top) / scale, 0, src_h)
    return np.stack([x1, y1, x2, y2], 1), sc[idx], cl[idx]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--frame", action="append", default=[], help="RAW:WxH[:SIZE] BGR u8 frame file (SIZE defaults to --size)"
    )
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--output", help="raw f32 [1, 4+nc, N] file")
    ap.add_argument("--shape", help="CxN of --output")
    ap.add_argument("--transform", help="scale,pad_left,pad_top,src_w,src_h")
    ap.add_argument("--iters", type=int, default=50)
    a = ap.parse_args()
    cv2.setNumThreads(1)
    res = {"opencv": cv2.__version__, "numpy": np.__version__}
    for spec in a.frame:
        path, wh = spec.rsplit(":", 1)
        size = a.size
        if "x" not in wh:  # RAW:WxH:SIZE
            path, wh, size = path.rsplit(":", 1) + [int(wh)]
        w, h = map(int, wh.split("x"))
        img = np.fromfile(path, dtype=np.uint8).reshape(h, w, 3)
        res[f"letterbox_{w}x{h}_{size}_ms"] = median_ms(lambda: letterbox(img, size), a.iters)
    if a.output:
        c, n = map(int, a.shape.split("x"))
        out = np.fromfile(a.output, dtype=np.float32).reshape(1, c, n)
        s, pl, pt, sw, sh = map(float, a.transform.split(","))
        res["decode_count"] = int(len(decode(out, 0.25, 0.45, 300, s, pl, pt, sw, sh)[1]))
        res["decode_ms"] = median_ms(lambda: decode(out, 0.25, 0.45, 300, s, pl, pt, sw, sh), a.iters * 4)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
