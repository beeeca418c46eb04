"""eval_fixtures.py - data and checks for `leancv evaluate` in test_task_cli.sh: random detection
results and ground truth for a few images written in every accepted form (a directory of
per-image results files, a list of per-image objects, a COCO-like flat list with bbox
[x,y,w,h] and category_id), random label PNGs for segmentation, and the expected scores from
the numpy references of tests/tasks/check_metrics.py. Used through task_fixtures.py."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tasks"))
import check_metrics  # noqa: E402
from task_fixtures import png_write  # noqa: E402

F32 = np.float32


def make(work):
    d = os.path.join(work, "eval")
    for sub in ("gt", "pred", "seg_gt", "seg_pred"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    rng = np.random.default_rng(77)
    images = 6
    gb, gl, gi, db, ds, dl, di = [], [], [], [], [], [], []
    for im in range(images):
        for _ in range(int(rng.integers(0, 6))):
            xy = rng.uniform(0, 200, 2)
            box = np.concatenate([xy, xy + rng.uniform(5, 60, 2)]).astype(F32)
            c = int(rng.integers(0, 4))
            gb.append(box), gl.append(c), gi.append(im)
            for _ in range(int(rng.integers(0, 3))):
                db.append((box + rng.normal(0, rng.choice([0.5, 3, 8]), 4)).astype(F32))
                ds.append(F32(rng.random())), dl.append(c if rng.random() < 0.85 else 3), di.append(im)
        for _ in range(int(rng.integers(0, 3))):
            xy = rng.uniform(0, 200, 2)
            db.append(np.concatenate([xy, xy + 20]).astype(F32))
            ds.append(F32(rng.random())), dl.append(int(rng.integers(0, 4))), di.append(im)
    # Detections on an image without ground truth count as false positives.
    db.append(np.array([1, 1, 30, 30], F32)), ds.append(F32(0.95)), dl.append(0), di.append(images)
    name = lambda im: "img%d.png" % im
    rec = lambda b, c, s, im: dict({"image": "photos/" + name(im), "box": [float(v) for v in b],
                                    "class": c}, **({} if s is None else {"score": float(s)}))
    for im in range(images + 1):
        for kind, boxes, scores, labels, ims in (("gt", gb, None, gl, gi), ("pred", db, ds, dl, di)):
            if kind == "gt" and im == images:
                continue
            dets = [rec(boxes[k], labels[k], None if scores is None else scores[k], im)
                    for k in range(len(boxes)) if ims[k] == im]
            for r in dets:
                del r["image"]
            obj = {"leancv_results": 1, "task": "detect", "image": "somewhere/" + name(im),
                   "detections": dets}
            with open(os.path.join(d, kind, "file%d.json" % im), "w") as f:
                json.dump(obj, f, indent=1)
    # The same ground truth as one list of per-image objects, the predictions as a flat
    # COCO-like list (bbox x, y, w, h; category_id; image_id), in shuffled order.
    gt_list = [{"image": name(im), "detections": [{"box": [float(v) for v in gb[k]], "class": gl[k]}
                                                  for k in range(len(gb)) if gi[k] == im]}
               for im in range(images)]
    json.dump(gt_list, open(os.path.join(d, "gt_list.json"), "w"))
    flat = [{"image_id": name(di[k]), "category_id": dl[k], "score": float(ds[k]),
             "bbox": [float(db[k][0]), float(db[k][1]), float(db[k][2]) - float(db[k][0]),
                      float(db[k][3]) - float(db[k][1])]} for k in rng.permutation(len(db))]
    json.dump(flat, open(os.path.join(d, "pred_flat.json"), "w"))
    # Flat lists name images by base name, so the order of boxes differs: scores decide ties
    # only among equal scores, which random floats do not have.
    m, m50, m75, ap = check_metrics.ref_map(4, np.array(db), np.array(ds, F32), np.array(dl),
                                            np.array(di), np.array(gb), np.array(gl), np.array(gi))
    exp = {"map": m, "map50": m50, "map75": m75,
           "ap": [None if a[0] < 0 else float(a.mean()) for a in ap]}
    # With --max-det 2: the two best detections of each image (pycocotools' maxDets).
    keep = [k for k in range(len(ds))
            if sorted([j for j in range(len(ds)) if di[j] == di[k]], key=lambda j: (-ds[j], j)).index(k) < 2]
    m, m50, m75, ap = check_metrics.ref_map(4, np.array(db)[keep], np.array(ds, F32)[keep],
                                            np.array(dl)[keep], np.array(di)[keep], np.array(gb),
                                            np.array(gl), np.array(gi))
    exp["cap2"] = {"map": m, "map50": m50, "map75": m75,
                   "ap": [None if a[0] < 0 else float(a.mean()) for a in ap]}
    # Segmentation: 3 images of 4 classes with ignored pixels.
    preds, truths = [], []
    for k, (h, w) in enumerate([(20, 30), (7, 9), (16, 16)]):
        t = rng.integers(0, 4, (h, w)).astype(np.uint8)
        p = np.where(rng.random((h, w)) < 0.7, t, rng.integers(0, 4, (h, w))).astype(np.uint8)
        t[rng.random((h, w)) < 0.1] = 255
        png_write(os.path.join(d, "seg_gt", "s%d.png" % k), t)
        png_write(os.path.join(d, "seg_pred", "s%d.png" % k), p)
        preds.append(p.ravel()), truths.append(t.ravel())
    miou, acc, iou, _ = check_metrics.ref_miou(4, 255, np.concatenate(preds), np.concatenate(truths))
    exp.update({"miou": miou, "pixel_accuracy": acc, "iou": [float(v) for v in iou]})
    json.dump(exp, open(os.path.join(d, "expected.json"), "w"))


def check(work, kind, path):
    exp = json.load(open(os.path.join(work, "eval", "expected.json")))
    res = json.load(open(path))
    if kind == "detect2":
        exp, kind = exp["cap2"], "detect"
        assert abs(res["map"] - json.load(open(os.path.join(work, "eval", "expected.json")))["map"]) > 1e-3
    if kind == "detect":
        for k in ("map", "map50", "map75"):
            assert abs(res[k] - exp[k]) < 1e-6, (k, res[k], exp[k])
        got = {e["class"]: e["ap"] for e in res["per_class"]}
        for c, a in enumerate(exp["ap"]):
            if a is None:
                assert got.get(c) is None, (c, got)
            else:
                assert abs(got[c] - a) < 1e-6, (c, got[c], a)
        assert 0 < res["map"] < 1, res["map"]  # a case that is neither trivial nor empty
    elif kind == "perfect":
        assert res["map"] == 1 and res["map50"] == 1, res
    else:
        assert abs(res["miou"] - exp["miou"]) < 1e-6 and abs(res["pixel_accuracy"] - exp["pixel_accuracy"]) < 1e-6
        got = {e["class"]: e["iou"] for e in res["per_class"]}
        for c, v in enumerate(exp["iou"]):
            assert abs(got[c] - v) < 1e-6, (c, got, v)
    return 0


def main(cmd, work, args):
    if cmd == "make-eval":
        make(work)
        return 0
    return check(work, args[0], args[1])
