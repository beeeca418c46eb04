#!/usr/bin/python3
"""conv_grad_torch.py - writes PyTorch's Conv / ConvTranspose gradients for the fixed cases of
tests/grad/test_conv.c as .npy files into the directory given as the only argument:
<case>_{x,w,b,dy}.npy (float32 inputs) and <case>_{dx,dw,db}.npy (float64, computed by
autograd in float64 from the same float32 values). Exits non-zero when torch is missing, so
the C test fails rather than skips."""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

# name: (transpose, x shape, w shape, keyword arguments of conv2d / conv_transpose2d)
CASES = {
    "grouped": (False, (2, 6, 9, 8), (4, 3, 3, 2),
                dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2)),
    "depthwise": (False, (3, 5, 7, 9), (5, 1, 3, 3),
                  dict(stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=5)),
    "transpose": (True, (2, 4, 5, 6), (4, 3, 3, 3),
                  dict(stride=(2, 2), padding=(1, 0), output_padding=(1, 0), dilation=(1, 1),
                       groups=1)),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20240607)
    for name, (transpose, xs, ws, kw) in CASES.items():
        x = rng.uniform(-1, 1, xs).astype(np.float32)
        w = rng.uniform(-1, 1, ws).astype(np.float32)
        cout = ws[1] * kw["groups"] if transpose else ws[0]
        b = rng.uniform(-1, 1, (cout,)).astype(np.float32)
        tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        tw = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        fn = F.conv_transpose2d if transpose else F.conv2d
        y = fn(tx, tw, tb, **kw)
        dy = rng.uniform(-1, 1, tuple(y.shape)).astype(np.float32)
        y.backward(torch.tensor(dy, dtype=torch.float64))
        arrays = dict(x=x, w=w, b=b, dy=dy, dx=tx.grad.numpy(), dw=tw.grad.numpy(),
                      db=tb.grad.numpy())
        for key, val in arrays.items():
            np.save(os.path.join(out, "%s_%s.npy" % (name, key)), val)


if __name__ == "__main__":
    main()
