# distill_models.py OUTDIR - the untrained models scripts/distill_table.sh distils with, exported
# from PyTorch as ONNX for 28x28 grey images and 10 classes:
#   teacher.onnx       ResNet-style (16/32/64 channels, three basic blocks), ~9.5 M MACs;
#                      outputs logits, t_feat2 [N,32,14,14], t_feat3 [N,64,7,7], t_emb [N,64]
#   student.onnx       the same design at half the width (8/16/32), ~1/4 of the MACs; outputs
#                      logits, s_feat2 [N,16,14,14], s_feat3 [N,32,7,7], s_emb [N,32]
#   student_peer.onnx  the student with other initial weights (deep mutual learning)
#   student_self.onnx  the student with a second exit (exit1: pooled s_feat2 -> linear)
# Feature values are graph outputs so a teacher session can return them and the student's
# names are stable.
import os
import sys

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = torch.nn.BatchNorm2d(cout)
        self.c2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = torch.nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 1, stride, bias=False),
                                             torch.nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (x if self.short is None else self.short(x)))


class Net(torch.nn.Module):
    def __init__(self, w, exit1=False):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(1, w, 3, 1, 1, bias=False),
                                        torch.nn.BatchNorm2d(w), torch.nn.ReLU())
        self.s1 = Block(w, w, 1)
        self.s2 = Block(w, 2 * w, 2)
        self.s3 = Block(2 * w, 4 * w, 2)
        self.fc = torch.nn.Linear(4 * w, 10)
        self.exit1 = torch.nn.Linear(2 * w, 10) if exit1 else None

    def forward(self, x):
        f2 = self.s2(self.s1(self.stem(x)))
        f3 = self.s3(f2)
        emb = torch.flatten(F.adaptive_avg_pool2d(f3, 1), 1)
        logits = self.fc(emb)
        if self.exit1 is not None:
            return logits, self.exit1(torch.flatten(F.adaptive_avg_pool2d(f2, 1), 1))
        return logits, f2, f3, emb


def export(model, path, names):
    model.eval()
    axes = {n: {0: "batch"} for n in ["image"] + names}
    torch.onnx.export(model, torch.zeros(2, 1, 28, 28), path, input_names=["image"],
                      output_names=names, dynamic_axes=axes, opset_version=13,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(1)
export(Net(16), os.path.join(out, "teacher.onnx"), ["logits", "t_feat2", "t_feat3", "t_emb"])
torch.manual_seed(2)
export(Net(8), os.path.join(out, "student.onnx"), ["logits", "s_feat2", "s_feat3", "s_emb"])
torch.manual_seed(3)
export(Net(8), os.path.join(out, "student_peer.onnx"), ["logits", "s_feat2", "s_feat3", "s_emb"])
torch.manual_seed(2)
export(Net(8, exit1=True), os.path.join(out, "student_self.onnx"), ["logits", "exit1"])
print("models written to", out)
