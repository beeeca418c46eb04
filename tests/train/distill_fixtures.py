# distill_fixtures.py - PyTorch reference values for tests/train/test_distill_loss.c, called by
# make_fixtures.py with its output directory: random inputs and the values and gradients of the
# distillation losses (weighted KD, FitNets hint through a 1x1 conv, attention transfer, RKD
# distance and angle). The losses are written out from their papers' published definitions and
# evaluated in float64 on float32 inputs, so the C side can be held to 1e-5.
import os

import numpy as np
import torch
import torch.nn.functional as F


def write_all(out):
    rng = np.random.default_rng(20261126)

    def save(name, a):
        np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(a))

    def f32(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def leaf(a):
        return torch.tensor(a, dtype=torch.float64, requires_grad=True)

    # weighted response KD: w_kd * T^2 * KL(p_t || p_s) + w_ce * CE
    def kdw_case(name, n, k, w_kd, w_ce, temp, smoothing):
        s, t = f32(n, k, scale=2.0), f32(n, k, scale=3.0)
        y = rng.integers(0, k, size=n).astype(np.int64)
        ts = leaf(s)
        kl = F.kl_div(F.log_softmax(ts / temp, dim=1),
                      F.softmax(torch.tensor(t, dtype=torch.float64) / temp, dim=1),
                      reduction="batchmean")
        loss = w_kd * temp * temp * kl + w_ce * F.cross_entropy(
            ts, torch.tensor(y), label_smoothing=smoothing)
        loss.backward()
        for suffix, v in (("s", s), ("t", t), ("y", y), ("grad", ts.grad.numpy())):
            save(name + "_" + suffix, v)
        save(name + "_loss", np.array([loss.item()]))

    kdw_case("kdw_dml", 5, 6, 1.0, 1.0, 1.0, 0.0)
    kdw_case("kdw_self", 4, 9, 0.3, 0.7, 3.0, 0.1)

    # FitNets hint: adapter 1x1 conv (weight [ct, cs, 1, 1], bias [ct]), weight * MSE
    def hint_case(name, n, cs, ct, h, w, weight, bias):
        xs, ft = f32(n, cs, h, w), f32(n, ct, h, w)
        wt, bt = f32(ct, cs, scale=0.5), f32(ct, scale=0.2)
        tx, tw, tb = leaf(xs), leaf(wt), leaf(bt)
        y = F.conv2d(tx, tw.view(ct, cs, 1, 1), tb if bias else None)
        loss = weight * F.mse_loss(y, torch.tensor(ft, dtype=torch.float64))
        loss.backward()
        db = tb.grad.numpy() if bias else np.zeros(ct)
        for suffix, v in (("xs", xs), ("ft", ft), ("w", wt), ("b", bt), ("dxs", tx.grad.numpy()),
                          ("dw", tw.grad.numpy()), ("db", db)):
            save(name + "_" + suffix, v)
        save(name + "_loss", np.array([loss.item()]))

    hint_case("hint_a", 3, 4, 6, 3, 5, 1.0, True)
    hint_case("hint_b", 2, 7, 3, 1, 9, 0.5, False)

    # attention transfer, as in the authors' code: at(x) = normalize(x.pow(2).mean(1).view(n,
    # -1)); loss = beta / 2 * (at(s) - at(t)).pow(2).mean()
    def at(x):
        return F.normalize(x.pow(2).mean(1).view(x.size(0), -1))

    def at_case(name, n, cs, ct, h, w, beta):
        fs, ft = f32(n, cs, h, w), f32(n, ct, h, w, scale=2.0)
        tf = leaf(fs)
        loss = beta / 2 * (at(tf) - at(torch.tensor(ft, dtype=torch.float64))).pow(2).mean()
        loss.backward()
        for suffix, v in (("fs", fs), ("ft", ft), ("grad", tf.grad.numpy())):
            save(name + "_" + suffix, v)
        save(name + "_loss", np.array([loss.item()]))

    at_case("at_a", 3, 5, 7, 4, 3, 1000.0)
    at_case("at_b", 2, 1, 4, 5, 5, 2.5)

    # RKD (Park et al. 2019, the authors' code): distances from e^2 + e^2 - 2 e e^T clamped at
    # 1e-12, diagonal zeroed, divided by the mean positive distance; angles between normalised
    # differences; smooth L1 (mean) against the teacher's (no gradient)
    def pdist(e):
        sq = e.pow(2).sum(1)
        res = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * e @ e.t()).clamp(min=1e-12).sqrt()
        res = res.clone()
        res[range(len(e)), range(len(e))] = 0
        return res

    def rkd_dist(s, t):
        with torch.no_grad():
            td = pdist(t)
            td = td / td[td > 0].mean()
        d = pdist(s)
        d = d / d[d > 0].mean()
        return F.smooth_l1_loss(d, td)

    def angles(e):
        d = e.unsqueeze(0) - e.unsqueeze(1)
        nd = F.normalize(d, p=2, dim=2)
        return torch.bmm(nd, nd.transpose(1, 2)).view(-1)

    def rkd_angle(s, t):
        with torch.no_grad():
            ta = angles(t)
        return F.smooth_l1_loss(angles(s), ta)

    def rkd_case(name, n, ds, dt, wd, wa, scale):
        es, et = f32(n, ds, scale=scale), f32(n, dt)
        es[0] *= 8.0  # an outlier: normalised distance gaps beyond 1
        te = leaf(es)
        tt = torch.tensor(et, dtype=torch.float64)
        dist, ang = rkd_dist(te, tt), rkd_angle(te, tt)
        loss = wd * dist + wa * ang
        loss.backward()
        for suffix, v in (("es", es), ("et", et), ("grad", te.grad.numpy())):
            save(name + "_" + suffix, v)
        save(name + "_loss", np.array([loss.item(), dist.item(), ang.item()]))

    rkd_case("rkd_a", 6, 5, 8, 25.0, 50.0, 1.0)
    rkd_case("rkd_b", 9, 3, 3, 1.0, 0.0, 3.0)
    rkd_case("rkd_c", 4, 7, 2, 0.0, 2.0, 0.5)
