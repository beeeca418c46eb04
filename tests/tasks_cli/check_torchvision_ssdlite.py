#!/usr/bin/python3
"""check_torchvision_ssdlite.py - torchvision's SSDlite320 MobileNetV3-Large detector (random
weights, seed 0, the whole model: resize and normalisation, backbone, heads, box decoding,
score threshold, per-class top-k and batched NMS, whose scripted part exports as an If)
exported to ONNX and run by `leancv run`, against PyTorch on the same image: the same number of
kept detections (matched one-to-one), the same labels, scores within 1e-4 and box coordinates
within 1e-3 of the largest coordinate (the zoo's max|diff| / max|ref| rule; measured about
2e-5 of it, 0.006 px at 320 px).

Usage: check_torchvision_ssdlite.py LEANCV WORKDIR
"""
import sys

import torch
import torchvision

import detector_check


def main():
    torch.manual_seed(0)
    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None).eval()
    # torchvision's initialisation leaves this untrained network's features near 1e-14 and
    # every class score tied at 1/91. Fan-in scaled convolutions keep activations near unit
    # scale, so kept boxes and their order are decided by the network, not by tie-breaking.
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(mod.weight, mode="fan_in", nonlinearity="relu")
                if mod.bias is not None:
                    mod.bias.normal_(0.0, 0.1)
    detector_check.check("ssdlite", model, sys.argv[1], sys.argv[2],
                         "ssdlite320_mobilenet_v3_large.onnx", ["boxes", "scores", "labels"])


if __name__ == "__main__":
    main()
