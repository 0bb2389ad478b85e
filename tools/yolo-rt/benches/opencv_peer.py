#!/usr/bin/env python3
"""OpenCV peer for `cargo bench -p yolo-rt --bench yolo`: times the same work as the Rust side.

letterbox: cv2.resize(INTER_LINEAR) + cv2.copyMakeBorder(114) + cv2.dnn.blobFromImage(1/255, swapRB)
decode:    numpy decode of a YOLOv9 [1, 4+nc, N] or YOLOv7 [1, N, 5+nc] output +
           cv2.dnn.NMSBoxesBatched + mapping back to the source image.
Single thread (cv2.setNumThreads(1)), timed in this thread's CPU time (time.thread_time), the clock
the Rust side reads too.

The bench runs it as a server (`--serve`), so that each case is timed on both sides back to back
in every run. It reads one JSON request per line on stdin and answers one JSON line on stdout:
  {"op": "frame", "key": K, "path": P, "w": W, "h": H, "size": S}      load a BGR u8 frame
  {"op": "output", "key": K, "path": P, "layout": "v9"|"v7", "rows": R, "cols": C,
   "transform": [scale, pad_left, pad_top, src_w, src_h]}             load a raw f32 output
  {"op": "batch", "key": K, "iters": N}    -> {"ms": ms per call over one batch of N calls}
  {"op": "count", "key": K}                 -> {"count": detections kept (decode) or 0}
Loading runs the work once (warm-up); the bench alternates our batches and the peer's.
The first line it prints is {"opencv": version, "numpy": version}.
Needs: pip install opencv-python-headless numpy
"""
import argparse
import json
import sys
import time

import cv2
import numpy as np


def batch_ms(fn, iters):
    """Milliseconds of this thread's CPU time per call over `iters` calls."""
    t0 = time.thread_time()
    for _ in range(iters):
        fn()
    return (time.thread_time() - t0) / iters * 1e3


def letterbox(img, size):
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    res = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    dw, dh = size - nw, size - nh
    top, left = dh // 2, dw // 2
    pad = cv2.copyMakeBorder(res, top, dh - top, left, dw - left, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return cv2.dnn.blobFromImage(pad, 1 / 255.0, swapRB=True)


def nms_and_map(boxes_xywh, sc, cl, conf, iou, max_det, scale, pad_left, pad_top, src_w, src_h):
    boxes = np.empty_like(boxes_xywh)
    boxes[:, 0] = boxes_xywh[:, 0] - boxes_xywh[:, 2] / 2
    boxes[:, 1] = boxes_xywh[:, 1] - boxes_xywh[:, 3] / 2
    boxes[:, 2] = boxes_xywh[:, 2]
    boxes[:, 3] = boxes_xywh[:, 3]
    idx = cv2.dnn.NMSBoxesBatched(boxes, sc, cl, conf, iou, top_k=max_det)
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)[:max_det]
    b = boxes[idx]
    x1 = np.clip((b[:, 0] - pad_left) / scale, 0, src_w)
    y1 = np.clip((b[:, 1] - pad_top) / scale, 0, src_h)
    x2 = np.clip((b[:, 0] + b[:, 2] - pad_left) / scale, 0, src_w)
    y2 = np.clip((b[:, 1] + b[:, 3] - pad_top) / scale, 0, src_h)
    return np.stack([x1, y1, x2, y2], 1), sc[idx], cl[idx]


def decode_v9(out, conf, iou, max_det, *tr):
    """[1, 4+nc, N]: cx, cy, w, h, class scores; score = best class score."""
    p = out[0]
    scores = p[4:]
    cls = scores.argmax(0)
    best = scores[cls, np.arange(p.shape[1])]
    keep = best > conf
    return nms_and_map(p[:4, keep].T, best[keep], cls[keep], conf, iou, max_det, *tr)


def decode_v7(out, conf, iou, max_det, *tr):
    """[1, N, 5+nc]: cx, cy, w, h, objectness, class probabilities; score = obj * best class."""
    p = out[0]
    x = p[p[:, 4] > conf]
    cls = x[:, 5:].argmax(1)
    sc = x[np.arange(len(x)), 5 + cls] * x[:, 4]
    keep = sc > conf
    return nms_and_map(x[keep, :4], sc[keep], cls[keep], conf, iou, max_det, *tr)


def serve():
    cv2.setNumThreads(1)
    print(json.dumps({"opencv": cv2.__version__, "numpy": np.__version__}), flush=True)
    work = {}
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "frame":
            img = np.fromfile(req["path"], dtype=np.uint8).reshape(req["h"], req["w"], 3)
            size = req["size"]
            work[req["key"]] = (lambda img=img, size=size: letterbox(img, size), lambda r: 0)
            work[req["key"]][0]()  # warm up
            res = {}
        elif op == "output":
            shape = (1, req["rows"], req["cols"])
            out = np.fromfile(req["path"], dtype=np.float32).reshape(shape)
            dec = decode_v9 if req["layout"] == "v9" else decode_v7
            args = (0.25, 0.45, 300, *req["transform"])
            work[req["key"]] = (lambda out=out, dec=dec, args=args: dec(out, *args), lambda r: len(r[1]))
            work[req["key"]][0]()  # warm up
            res = {}
        elif op == "batch":
            res = {"ms": batch_ms(work[req["key"]][0], req["iters"])}
        elif op == "count":
            fn, count = work[req["key"]]
            res = {"count": count(fn())}
        else:
            res = {"error": f"unknown op {op}"}
        print(json.dumps(res), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true", help="answer JSON requests on stdin (see above)")
    ap.parse_args()
    serve()


if __name__ == "__main__":
    main()
