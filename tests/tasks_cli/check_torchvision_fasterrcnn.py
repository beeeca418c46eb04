#!/usr/bin/python3
"""check_torchvision_fasterrcnn.py - torchvision's Faster R-CNN MobileNetV3-Large 320 FPN
detector (random weights, seed 0, the whole model: resize and normalisation, backbone, FPN, RPN
with its anchors, box decoding, per-level top-k and NMS, MultiScaleRoIAlign, box head, per-class
decoding, score threshold and batched NMS) exported to ONNX (opset 11, a fixed 320x320 image)
and run by `leancv run`, against PyTorch on the same image: the same number of kept detections
(matched one-to-one), the same labels, scores within 1e-4 and box coordinates within 1e-3 of the
largest coordinate (the zoo's max|diff| / max|ref| rule, as in check_torchvision_ssdlite.py;
measured at most 3e-6 and 0.0033 px at 320 px over scalar, AVX2 and AVX-512, 1 or 2 threads). The
selections have room: the 150th and 151st RPN logits of a level differ by 2.6e-4 or more, the
100th and 101st detection scores by 2e-4.
box_score_thresh is 0 so the untrained classifier keeps detections_per_img (100) boxes.

Usage: check_torchvision_fasterrcnn.py LEANCV WORKDIR
"""
import sys

import torch
import torchvision

import detector_check


def build_model():
    torch.manual_seed(0)
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, box_score_thresh=0.0).eval()
    rpn, pred = model.rpn.head, model.roi_heads.box_predictor
    # The four layers that end in box deltas or class logits are drawn small on purpose.
    small = {rpn.cls_logits: 1e-4, rpn.bbox_pred: 1e-4, pred.cls_score: 1e-3,
             pred.bbox_pred: 1e-3}
    with torch.no_grad():
        # torchvision's own initialisation leaves this untrained network's FPN features near
        # 1e-7 and all 100 scores equal; fan-in scaled convolutions keep them apart (as in the
        # SSDlite check), but the features then grow to a scale near 150 (FPN) and 25 (box head).
        # Fan-in init on the RPN's output convolutions too turns every proposal into the
        # whole image, and NMS leaves 2; torchvision's RPN-head rule (normal std 0.01, zero
        # bias) leaves 8. Stds scaled down to the features' scale give RPN deltas and logits
        # near 0.3 and box-head ones near 1: 150 distinct proposals, 100 detections.
        for mod in model.modules():
            if mod in small:
                mod.weight.normal_(0.0, small[mod])
                mod.bias.zero_()
            elif isinstance(mod, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu")
                if mod.bias is not None:
                    mod.bias.normal_(0.0, 0.1)
    return model


def main():
    detector_check.check("fasterrcnn", build_model(), sys.argv[1], sys.argv[2],
                         "fasterrcnn_mobilenet_v3_large_320_fpn.onnx",
                         # torchvision's R-CNN detections are a dict in this order (SSD's differ)
                         ["boxes", "labels", "scores"])


if __name__ == "__main__":
    main()
