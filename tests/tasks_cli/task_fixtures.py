#!/usr/bin/python3
"""task_fixtures.py - fixtures and checks for test_task_cli.sh (leancv detect / segment /
textdet / evaluate). Without a trained detector, each model is built with onnx.helper so that
its outputs have exactly one head's layout with known values (constants added to
ReduceMean(image) * 0, so the graph still runs on the image), or, for segmentation, a 1x1 Conv
whose class logits are the image's colour channels (and a random 3x3 one for --flip). The expected results are computed here in
numpy from the same numbers, and the drawn PNGs are read back (a small PNG codec below).

Usage: task_fixtures.py make WORK | check-detect WORK HEAD JSON [PNG] | check-segment WORK
       JSON MASK EXACT | check-segment-flip WORK MASK FLIP_MASK FLIP_JSON | check-textdet WORK
       JSON PNG | make-eval WORK | check-eval WORK KIND JSON
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = np.float32
NET = 64  # detection network input (square)
IMG_W, IMG_H = 128, 96  # letterboxed: scale 1/2, 8 rows of padding top and bottom
SMALL_W, SMALL_H = 48, 30  # smaller than the input: scale 4/3 up to 64x40, 12 rows of padding


# ---- PNG (8-bit grey or RGB) ----

def png_write(path, img):
    img = np.asarray(img, np.uint8)
    h, w = img.shape[:2]
    ch = 1 if img.ndim == 2 else img.shape[2]
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))
    chunk = lambda t, d: (struct.pack(">I", len(d)) + t + d +
                          struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if ch == 1 else 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) +
                chunk(b"IEND", b""))


def png_read(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat = 8, b""
    while pos < len(data):
        n, t = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if t == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif t == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (0, 2), (depth, ctype)
    ch = 1 if ctype == 0 else 3
    raw = zlib.decompress(idat)
    stride = w * ch
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = np.frombuffer(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)], np.uint8).astype(np.int32)
        cur = np.zeros(stride, np.int32)
        for x in range(stride):
            a = cur[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if ft == 0:
                p = 0
            elif ft == 1:
                p = a
            elif ft == 2:
                p = b
            elif ft == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + p) & 255
        out[y] = cur
        prev = cur
    return out.reshape(h, w, ch).astype(np.uint8) if ch == 3 else out.astype(np.uint8)


# ---- models ----

def const_model(path, outputs, net=NET):
    """Image input [1,3,net,net]; each output = constant + ReduceMean(image) * 0."""
    nodes = [helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
             helper.make_node("Mul", ["m", "zero"], ["z"])]
    inits = [numpy_helper.from_array(np.zeros((), F32), "zero")]
    outs = []
    for name, arr in outputs:
        arr = np.asarray(arr, F32)
        inits.append(numpy_helper.from_array(arr, name + "_c"))
        nodes.append(helper.make_node("Add", [name + "_c", "z"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(arr.shape)))
    g = helper.make_graph(nodes, "heads", [helper.make_tensor_value_info(
        "images", TensorProto.FLOAT, [1, 3, net, net])], outs, inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


# Candidate boxes in network pixels (cx, cy, w, h), class, score: A and B overlap (same class:
# B suppressed), C overlaps A in another class (kept), E is below --conf 0.25.
# Placed so that every label fits above its box and covers no checked edge of another.
YOLO_ROWS = [(20, 28, 16, 16, 1, 0.9), (21, 29, 16, 16, 1, 0.8), (23, 30, 16, 16, 2, 0.7),
             (48, 44, 10, 20, 0, 0.6), (10, 50, 4, 4, 0, 0.2), (50, 22, 8, 8, 2, 0.3)]
NC = 3


def corners(cx, cy, w, h):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def expected_yolo():
    kept = [0, 2, 3, 5]
    return [(corners(*YOLO_ROWS[k][:4]), YOLO_ROWS[k][4], YOLO_ROWS[k][5]) for k in kept]


def make_detect_models(work):
    rows = np.zeros((len(YOLO_ROWS), 4 + NC), F32)
    for i, (cx, cy, w, h, c, s) in enumerate(YOLO_ROWS):
        rows[i, :4] = (cx, cy, w, h)
        rows[i, 4 + c] = s
        rows[i, 4 + (c + 1) % NC] = s / 4  # a weaker second class
    const_model(os.path.join(work, "yolov8.onnx"), [("out", rows.T[None])])
    v5 = np.concatenate([rows[:, :4], np.ones((len(rows), 1), F32) * 0.5, rows[:, 4:] * 2], 1)
    const_model(os.path.join(work, "yolov5.onnx"), [("out", v5[None])])
    # SSD: zero deltas -> box = prior; probabilities over 1 + NC classes (0 background).
    pri = np.array([[0.25, 0.25, 0.25, 0.25], [0.75, 0.5, 0.2, 0.4], [0.5, 0.8, 0.1, 0.1]], F32)
    probs = np.array([[0.1, 0.0, 0.9, 0.0], [0.2, 0.0, 0.0, 0.8], [0.9, 0.1, 0.0, 0.0]], F32)
    const_model(os.path.join(work, "ssd.onnx"), [("deltas", np.zeros((1, 3, 4), F32)),
                                                  ("scores", probs[None]), ("priors", pri[None])])
    # RetinaNet with anchors from --priors: zero deltas -> box = anchor; logits -> sigmoid.
    anchors = np.array([[4, 4, 20, 36], [30, 10, 60, 30]], F32)
    logits = np.array([[3.0, -5, -5], [-5, -5, 2.0]], F32)
    const_model(os.path.join(work, "retinanet.onnx"), [("deltas", np.zeros((1, 2, 4), F32)),
                                                        ("logits", logits[None])])
    np.save(os.path.join(work, "anchors.npy"), anchors)
    # FCOS, one level of 8x8 cells (stride 8): one strong cell (2, 3), class 1.
    cls = np.full((1, NC, 8, 8), -9, F32)
    cls[0, 1, 3, 2] = 4.0
    reg = np.full((1, 4, 8, 8), 2, F32)
    reg[0, :, 3, 2] = (6, 5, 10, 7)
    ctr = np.full((1, 1, 8, 8), 3.0, F32)
    const_model(os.path.join(work, "fcos.onnx"), [("cls", cls), ("reg", reg), ("ctr", ctr)])
    # CenterNet on a 16x16 grid (down ratio 4): a peak of class 2 at (5, 9).
    heat = np.zeros((1, NC, 16, 16), F32)
    heat[0, 2, 9, 5] = 0.8
    heat[0, 2, 9, 6] = 0.5  # a neighbour, not a peak
    wh = np.zeros((1, 2, 16, 16), F32)
    wh[0, :, 9, 5] = (6, 4)
    off = np.zeros((1, 2, 16, 16), F32)
    off[0, :, 9, 5] = (0.5, 0.25)
    const_model(os.path.join(work, "centernet.onnx"), [("heat", heat), ("wh", wh), ("off", off)])
    sig = lambda x: 1 / (1 + np.exp(-x))
    fx, fy = 2 * 8 + 4, 3 * 8 + 4
    exp = {
        "yolov8": expected_yolo(),
        # YOLOv5's score is objectness 0.5 times the doubled class score: the same s.
        "yolov5": expected_yolo(),
        # SSD labels count the background: probability column k is class k.
        "ssd": [([8.0, 8.0, 24.0, 24.0], 2, 0.9), ([41.6, 19.2, 54.4, 44.8], 3, 0.8)],
        "retinanet": [([4, 4, 20, 36], 0, sig(3.0)), ([30, 10, 60, 30], 2, sig(2.0))],
        "fcos": [([fx - 6, fy - 5, fx + 10, fy + 7], 1, float(np.sqrt(sig(4.0) * sig(3.0))))],
        "centernet": [([(5.5 - 3) * 4, (9.25 - 2) * 4, (5.5 + 3) * 4, (9.25 + 2) * 4], 2, 0.8)],
    }
    with open(os.path.join(work, "expected.json"), "w") as f:
        json.dump(exp, f)
    with open(os.path.join(work, "labels.txt"), "w") as f:
        f.write("cat\ndog\nbird\n")


def make_image(work):
    y, x = np.mgrid[0:IMG_H, 0:IMG_W]
    img = np.stack([x * 2 % 256, y * 2 % 256, (x + y) % 256], 2).astype(np.uint8)
    png_write(os.path.join(work, "scene.png"), img)
    png_write(os.path.join(work, "small.png"), img[:SMALL_H, :SMALL_W])


def make_segment(work):
    # logits = 10 * (R, G, B) of the input: the class is the strongest channel.
    w = np.zeros((3, 3, 1, 1), F32)
    for c in range(3):
        w[c, c] = 10
    g = helper.make_graph([helper.make_node("Conv", ["images", "w"], ["logits"])], "seg",
                          [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 32, 32])],
                          [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), os.path.join(work, "seg.onnx"))
    rng = np.random.default_rng(5)
    # At the network size: random colours with a clear strongest channel per pixel.
    lab = rng.integers(0, 3, (32, 32))
    img = rng.integers(0, 100, (32, 32, 3))
    img[np.arange(32)[:, None], np.arange(32)[None, :], lab] = 200
    png_write(os.path.join(work, "seg32.png"), img.astype(np.uint8))
    np.save(os.path.join(work, "seg32_labels.npy"), lab.astype(np.uint8))
    # --flip: a 3x3 Conv with random weights is not mirror-symmetric, so the mirrored run's
    # logits differ and must be mirrored back before they are added; the same with an NHWC
    # input (mirrored in its own layout).
    wf = rng.normal(0, 1, (3, 3, 3, 3)).astype(F32)
    np.save(os.path.join(work, "segflip_w.npy"), wf)
    for name, shape, nodes in (
            ("segflip", [1, 3, 32, 32], []),
            ("segflip_nhwc", [1, 32, 32, 3],
             [helper.make_node("Transpose", ["images"], ["nchw"], perm=[0, 3, 1, 2])])):
        conv = helper.make_node("Conv", ["nchw" if nodes else "images", "w"], ["logits"],
                                pads=[1, 1, 1, 1])
        g = helper.make_graph(nodes + [conv], name,
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [numpy_helper.from_array(wf, "w")])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
                  os.path.join(work, name + ".onnx"))
    # --scales: the same convolution declared at 16x16 (run at 16x16 and, freed, at 32x32) on a
    # 32x32 image of 2x2 blocks, so that fitting it to 16x16 is exact (the blocks' mean).
    g = helper.make_graph([helper.make_node("Conv", ["images", "w"], ["logits"], pads=[1, 1, 1, 1])],
                          "segms", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [numpy_helper.from_array(wf, "w")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(work, "segms.onnx"))
    blocks = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    png_write(os.path.join(work, "blocks32.png"), blocks.repeat(2, 0).repeat(2, 1))
    # Smaller than the network and not square: three vertical bands.
    band = np.zeros((20, 30, 3), np.uint8)
    band[:, :10, 0] = band[:, 10:20, 1] = band[:, 20:, 2] = 220
    png_write(os.path.join(work, "bands.png"), band)
    # Text map [1,1,16,16]: a strong 10x4 region and a weak one (mean 0.5 < 0.6: dropped).
    prob = np.zeros((1, 1, 16, 16), F32)
    prob[0, 0, 4:8, 2:12] = 0.9
    prob[0, 0, 11:14, 5:9] = 0.5
    const_model(os.path.join(work, "text.onnx"), [("prob", prob)], net=32)


def check_detect(work, head, jpath, png=None):
    exp = json.load(open(os.path.join(work, "expected.json")))[head]
    res = json.load(open(jpath))
    assert res["task"] == "detect" and res["head"] == head, res
    w, h = res["image_size"]
    assert (w, h) in ((IMG_W, IMG_H), (SMALL_W, SMALL_H)) and res["input_size"] == [NET, NET], res
    # Letterbox: the image scaled by r to fit, rounded, centred (integer padding).
    r = min(NET / w, NET / h)
    nw, nh = int(np.floor(w * r + 0.5)), int(np.floor(h * r + 0.5))
    px, py = (NET - nw) // 2, (NET - nh) // 2
    assert set(res["timings_ms"]) == {"pre", "network", "post"}
    assert res["segmentation"] is None and res["text_regions"] == []
    dets = res["detections"]
    exp = sorted(exp, key=lambda e: -e[2])
    assert len(dets) == len(exp), (head, dets, exp)
    names = ["cat", "dog", "bird"]
    for d, (box, c, s) in zip(dets, exp):
        want = [(box[0] - px) * w / nw, (box[1] - py) * h / nh, (box[2] - px) * w / nw,
                (box[3] - py) * h / nh]
        want = [min(max(v, 0), lim) for v, lim in zip(want, [w, h] * 2)]
        assert np.allclose(d["box"], want, atol=1e-3), (head, d, want)
        assert d["class"] == c and abs(d["score"] - s) < 1e-5, (head, d, c, s)
        assert d["label"] == (names[c] if c < len(names) else None), d
    if png:
        img = png_read(png)
        orig = png_read(os.path.join(work, "scene.png"))
        assert img.shape == orig.shape
        colours = {}
        for d in dets:
            x1, y1, x2, y2 = [int(np.floor(d["box"][0])), int(np.floor(d["box"][1])),
                              int(np.ceil(d["box"][2])) - 1, int(np.ceil(d["box"][3])) - 1]
            my, mx = (y1 + y2) // 2, (x1 + x2) // 2
            edge = [tuple(img[my, x1]), tuple(img[my, x2]), tuple(img[y2, mx])]
            assert edge[0] == edge[1] == edge[2], (d, edge)
            assert edge[0] != tuple(orig[my, x1]), (d, edge)
            colours.setdefault(d["class"], set()).add(edge[0])
            # Just inside the 2-pixel bottom edge the image is untouched (labels sit at the top).
            if all(not (o["box"][0] - 2 <= mx <= o["box"][2] + 2 and
                        o["box"][1] - 12 <= y2 - 3 <= o["box"][3] + 2) for o in dets if o is not d):
                assert tuple(img[y2 - 3, mx]) == tuple(orig[y2 - 3, mx]), d
        flat = [next(iter(v)) for v in colours.values()]
        assert all(len(v) == 1 for v in colours.values()) and len(set(flat)) == len(flat), colours


def check_segment(work, jpath, mask_path, exact):
    res = json.load(open(jpath))
    mask = png_read(mask_path)
    seg = res["segmentation"]
    assert res["task"] == "segment" and res["detections"] == [] and seg["classes"] == 3
    assert seg["mask"] == mask_path
    counts = {e["class"]: e["pixels"] for e in seg["class_pixels"]}
    assert counts == {c: int((mask == c).sum()) for c in range(3) if (mask == c).any()}, counts
    assert mask.shape == (res["image_size"][1], res["image_size"][0])
    if exact:
        want = np.load(os.path.join(work, "seg32_labels.npy"))
        assert (mask == want).all(), np.argwhere(mask != want)[:5]
    else:
        # Bands: away from the two borders the class is the band's colour.
        assert (mask[:, :8] == 0).all() and (mask[:, 12:18] == 1).all() and (mask[:, 22:] == 2).all()


def check_segment_flip(work, plain_png, flip_png, jpath):
    """--flip: the mask is the argmax of the image's logits plus the mirrored image's, mirrored
    back (numpy's 3x3 convolution in float64); pixels whose two best sums lie within 1e-4 may
    go either way. The plain mask must differ somewhere, or the check would prove nothing."""
    w = np.load(os.path.join(work, "segflip_w.npy")).astype(np.float64)
    x = png_read(os.path.join(work, "seg32.png")).astype(np.float64).transpose(2, 0, 1) / 255

    def conv(x):
        xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
        return sum(np.einsum("oc,chw->ohw", w[:, :, i, j], xp[:, i:i + 32, j:j + 32])
                   for i in range(3) for j in range(3))

    def expect(logits, mask):
        top = np.sort(logits, 0)
        settled = top[-1] - top[-2] > 1e-4
        assert (mask == logits.argmax(0))[settled].all(), np.argwhere((mask != logits.argmax(0)) & settled)[:5]

    plain, flipped = png_read(plain_png), png_read(flip_png)
    both = conv(x) + conv(x[:, :, ::-1])[:, :, ::-1]
    expect(conv(x), plain)
    expect(both, flipped)
    assert (plain != flipped).sum() > 10, "the flip changed too few pixels to test anything"
    res = json.load(open(jpath))
    assert res["head"] == "argmax-flip", res["head"]


def check_segment_scales(work, flip_png, scales_png, jpath):
    """--flip --scales 1,2 on segms.onnx (16x16) and blocks32.png: the runs at 16x16 and 32x32,
    each plus its mirrored run mirrored back, the 32x32 logits resized to 16x16 and added, the
    sum resized to the image and the argmax taken (torch's bilinear interpolation, float64);
    pixels whose two best sums lie within 1e-4 may go either way. Without the scales the mask
    must differ somewhere, or the check would prove nothing."""
    import torch
    import torch.nn.functional as F
    w = torch.from_numpy(np.load(os.path.join(work, "segflip_w.npy")).astype(np.float64))
    x = png_read(os.path.join(work, "blocks32.png")).astype(np.float64).transpose(2, 0, 1) / 255
    x32 = torch.from_numpy(x)[None]
    x16 = torch.from_numpy(x[:, ::2, ::2].copy())[None]

    def both(x):
        return F.conv2d(x, w, padding=1) + F.conv2d(x.flip(-1), w, padding=1).flip(-1)

    def resize(t, n):
        return F.interpolate(t, size=(n, n), mode="bilinear", align_corners=False)

    logits = resize(both(x16) + resize(both(x32), 16), 32)[0].numpy()
    mask = png_read(scales_png)
    top = np.sort(logits, 0)
    settled = top[-1] - top[-2] > 1e-4
    assert (mask == logits.argmax(0))[settled].all(), np.argwhere((mask != logits.argmax(0)) & settled)[:5]
    assert (png_read(flip_png) != mask).sum() > 10, "the scales changed too few pixels to test anything"
    res = json.load(open(jpath))
    assert res["head"] == "argmax-scales-flip" and res["input_size"] == [16, 16], res


def check_textdet(work, jpath, png):
    res = json.load(open(jpath))
    regions = res["text_regions"]
    assert res["task"] == "textdet" and len(regions) == 1, regions
    sx, sy = res["image_size"][0] / 16, res["image_size"][1] / 16
    d = 10 * 4 * 1.5 / (2 * 14)  # the unclip offset of a 10x4 rectangle
    want = {(round((2 - d) * sx, 2), round((4 - d) * sy, 2)), (round((12 + d) * sx, 2), round((4 - d) * sy, 2)),
            (round((12 + d) * sx, 2), round((8 + d) * sy, 2)), (round((2 - d) * sx, 2), round((8 + d) * sy, 2))}
    got = {(round(x, 2), round(y, 2)) for x, y in regions[0]["quad"]}
    assert got == want, (got, want)
    assert abs(regions[0]["score"] - 0.9) < 1e-5
    # The outline: red pixels exist on the top edge and all lie on the (clipped) rectangle.
    img = png_read(png)
    x0, x1 = max((2 - d) * sx, 0), min((12 + d) * sx, img.shape[1] - 1)
    y0, y1 = max((4 - d) * sy, 0), min((8 + d) * sy, img.shape[0] - 1)
    red = np.argwhere((img == (255, 0, 0)).all(2))
    assert len(red) > 0 and (red[:, 0] == round(y0)).sum() >= (x1 - x0) / 2, red
    on = ((np.abs(red[:, 0] - y0) <= 1) | (np.abs(red[:, 0] - y1) <= 1) |
          (np.abs(red[:, 1] - x0) <= 1) | (np.abs(red[:, 1] - x1) <= 1))
    assert on.all(), red[~on]

if __name__ == "__main__":
    cmd, work = sys.argv[1], sys.argv[2]
    if cmd == "make":
        make_detect_models(work)
        make_image(work)
        make_segment(work)
    elif cmd == "check-detect":
        check_detect(work, sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
    elif cmd == "check-segment":
        check_segment(work, sys.argv[3], sys.argv[4], sys.argv[5] == "1")
    elif cmd == "check-segment-flip":
        check_segment_flip(work, sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "check-segment-scales":
        check_segment_scales(work, sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "check-textdet":
        check_textdet(work, sys.argv[3], sys.argv[4])
    else:
        import eval_fixtures
        sys.exit(eval_fixtures.main(cmd, work, sys.argv[3:]))
