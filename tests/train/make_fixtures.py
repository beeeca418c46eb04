# make_fixtures.py OUTDIR - reference values for tests/train/test_loss.c and test_optim.c,
# computed with PyTorch: random inputs, the losses' values and gradients, and the parameters
# after several optimizer steps with schedules, weight decay groups and clipping. Exits non-zero
# (so the tests depending on it fail) when torch or numpy is missing.
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20240611)


def save(name, a):
    np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(a))


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ---- losses -------------------------------------------------------------------------------
def ce_case(name, n, k, scale, smoothing):
    x = f32(n, k, scale=scale)
    y = rng.integers(0, k, size=n).astype(np.int64)
    t = torch.tensor(x, requires_grad=True)
    loss = F.cross_entropy(t, torch.tensor(y), label_smoothing=smoothing)
    loss.backward()
    save(name + "_x", x)
    save(name + "_y", y)
    save(name + "_loss", np.array([loss.item()], dtype=np.float64))
    save(name + "_grad", t.grad.numpy())


ce_case("ce_plain", 7, 10, 3.0, 0.0)
ce_case("ce_smooth", 9, 5, 2.0, 0.1)
ce_case("ce_big", 4, 13, 60.0, 0.2)


def pair_case(name, fn, shape, ties):
    a = f32(*shape)
    b = f32(*shape)
    if ties:
        b.reshape(-1)[::5] = a.reshape(-1)[::5]  # exact ties: sign(0) = 0
    ta = torch.tensor(a, requires_grad=True)
    loss = fn(ta, torch.tensor(b))
    loss.backward()
    save(name + "_a", a)
    save(name + "_b", b)
    save(name + "_loss", np.array([loss.item()], dtype=np.float64))
    save(name + "_grad", ta.grad.numpy())


pair_case("mse", F.mse_loss, (4, 5, 3), False)
pair_case("l1", F.l1_loss, (3, 7, 2), True)


def kd_case(name, n, k, alpha, temp, smoothing):
    s = f32(n, k, scale=2.0)
    t = f32(n, k, scale=3.0)
    y = rng.integers(0, k, size=n).astype(np.int64)
    ts = torch.tensor(s, requires_grad=True)
    kl = F.kl_div(F.log_softmax(ts / temp, dim=1), F.softmax(torch.tensor(t) / temp, dim=1),
                  reduction="batchmean")
    loss = alpha * temp * temp * kl
    if alpha < 1.0:
        loss = loss + (1.0 - alpha) * F.cross_entropy(ts, torch.tensor(y),
                                                      label_smoothing=smoothing)
    loss.backward()
    save(name + "_s", s)
    save(name + "_t", t)
    save(name + "_y", y)
    save(name + "_loss", np.array([loss.item()], dtype=np.float64))
    save(name + "_grad", ts.grad.numpy())


kd_case("kd_mix", 6, 10, 0.7, 4.0, 0.1)
kd_case("kd_pure", 5, 7, 1.0, 2.0, 0.0)
kd_case("kd_cold", 3, 4, 0.3, 0.5, 0.0)

# ---- optimizers ---------------------------------------------------------------------------
# Must match the table in test_optim.c.
STEPS = 12
SHAPES = [(5, 3), (5,), (2, 3, 3)]
CONFIGS = {
    # name: (opt, lr, momentum, nesterov, beta1, beta2, eps, wd, decay_1d, schedule,
    #        total, warmup, step_size, gamma, min_lr, clip)
    "sgd_clip": ("sgd", 0.1, 0.9, False, 0, 0, 0, 0.01, False, "const", 0, 3, 0, 0, 0, 1.0),
    "sgd_nesterov": ("sgd", 0.05, 0.8, True, 0, 0, 0, 0.001, True, "step", 0, 0, 4, 0.5, 0, 0),
    "adamw_cos": ("adamw", 0.01, 0, False, 0.9, 0.99, 1e-8, 0.05, False, "cosine", 12, 2, 0, 0,
                  0.001, 0),
    "sgd_plain": ("sgd", 0.2, 0.0, False, 0, 0, 0, 0.0, False, "cosine", 8, 0, 0, 0, 0, 0.5),
    "adamw_clip": ("adamw", 0.003, 0, False, 0.9, 0.999, 1e-8, 0.01, True, "const", 0, 0, 0, 0, 0,
                   2.0),
}


def lr_at(cfg, s):
    (_, lr, _, _, _, _, _, _, _, sched, total, warm, step_size, gamma, min_lr, _) = cfg
    if s < warm:
        return lr * (s + 1) / warm
    t = s - warm
    if sched == "step":
        return lr * gamma ** (t // step_size)
    if sched == "cosine":
        T = total - warm
        if T <= 0:
            return lr
        return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * min(t, T) / T))
    return lr


init = [f32(*s) for s in SHAPES]
grads = [f32(STEPS, *s, scale=1.5) for s in SHAPES]
for i in range(len(SHAPES)):
    save("opt_init%d" % i, init[i])
    save("opt_grads%d" % i, grads[i])

for name, cfg in CONFIGS.items():
    (opt, lr, mom, nest, b1, b2, eps, wd, decay_1d, sched, total, warm, step_size, gamma, min_lr,
     clip) = cfg
    params = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    decay = [p for p in params if decay_1d or p.dim() != 1]
    nodecay = [p for p in params if not (decay_1d or p.dim() != 1)]
    groups = [{"params": decay, "weight_decay": wd}]
    if nodecay:
        groups.append({"params": nodecay, "weight_decay": 0.0})
    if opt == "sgd":
        o = torch.optim.SGD(groups, lr=lr, momentum=mom, nesterov=nest)
    else:
        o = torch.optim.AdamW(groups, lr=lr, betas=(b1, b2), eps=eps)
    sch = torch.optim.lr_scheduler.LambdaLR(o, lambda s, c=cfg: lr_at(c, s) / c[1])
    lrs = []
    for s in range(STEPS):
        lrs.append(o.param_groups[0]["lr"])
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g[s])
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(params, clip)
        o.step()
        sch.step()
    for i, p in enumerate(params):
        save("opt_%s_p%d" % (name, i), p.detach().numpy())
    save("opt_%s_lr" % name, np.array(lrs, dtype=np.float64))
print("fixtures written to", out)

# ---- models and an end-to-end reference run -----------------------------------------------
class SmallCNN(torch.nn.Module):
    """Conv-BN-ReLU-MaxPool, Conv-BN-ReLU, global average pool, dropout, linear."""

    def __init__(self, width=8, classes=10, dropout=0.0):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, width, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(width)
        self.conv2 = torch.nn.Conv2d(width, 2 * width, 3, padding=1)
        self.bn2 = torch.nn.BatchNorm2d(2 * width)
        self.drop = torch.nn.Dropout(dropout) if dropout > 0 else None
        self.fc = torch.nn.Linear(2 * width, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        if self.drop is not None:
            x = self.drop(x)
        return self.fc(x)


class FashionCNN(torch.nn.Module):
    """Two Conv-BN-ReLU-MaxPool stages and a linear classifier on the flattened features."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = torch.nn.BatchNorm2d(16)
        self.fc = torch.nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


def export(model, name, side):
    model.eval()
    torch.onnx.export(model, torch.zeros(2, 1, side, side), os.path.join(out, name),
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=13, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE)


torch.manual_seed(7)
export(SmallCNN(width=4, classes=5), "tiny_cnn.onnx", 8)
torch.manual_seed(9)
export(SmallCNN(width=6, classes=5), "tiny_cnn_w6.onnx", 8)
torch.manual_seed(10)
export(FashionCNN(), "fmnist_cnn.onnx", 28)  # for test_train_cli.sh

# End to end: the tiny CNN trained 4 steps by PyTorch (SGD, momentum, weight decay on the
# non-1-D parameters, label smoothing) from the exported initial weights.
torch.manual_seed(7)
model = SmallCNN(width=4, classes=5)
E2E_STEPS, E2E_BATCH = 4, 6
xs = f32(E2E_STEPS, E2E_BATCH, 1, 8, 8)
ys = rng.integers(0, 5, size=(E2E_STEPS, E2E_BATCH)).astype(np.int64)
save("e2e_x", xs)
save("e2e_y", ys)
decay = [p for p in model.parameters() if p.dim() != 1]
nodecay = [p for p in model.parameters() if p.dim() == 1]
opt = torch.optim.SGD([{"params": decay, "weight_decay": 1e-3},
                       {"params": nodecay, "weight_decay": 0.0}], lr=0.1, momentum=0.9)
model.train()
losses = []
for s in range(E2E_STEPS):
    opt.zero_grad()
    loss = F.cross_entropy(model(torch.tensor(xs[s])), torch.tensor(ys[s]), label_smoothing=0.05)
    loss.backward()
    opt.step()
    losses.append(loss.item())
save("e2e_loss", np.array(losses, dtype=np.float64))
model.eval()  # inference with the updated running statistics
xe = f32(3, 1, 8, 8)
save("e2e_eval_x", xe)
with torch.no_grad():
    save("e2e_eval_logits", model(torch.tensor(xe)).numpy())
for k, v in model.state_dict().items():
    if v.dtype == torch.float32:
        save("e2e_p_" + k, v.numpy())
print("models written to", out)

# The distillation losses' references (tests/train/test_distill_loss.c).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import distill_fixtures  # noqa: E402

distill_fixtures.write_all(out)
print("distillation fixtures written to", out)
