"""onnx_torch.py - an interpreter of the few ONNX ops the model builder (include/leancv_build.h)
emits, written with torch.nn.functional in float64: the outside reference the builder checks
(check_builder_torch.py, tests/task_train/check_dense.py) compare `leancv run` against; and
random BatchNorm parameters so that no layer of a fresh model is a near-identity."""
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def run_torch(model, x, check):
    """Evaluates the graph in float64 with torch, one ONNX op at a time; check(cond, what)
    records what the interpreter finds outside what the builder should emit."""
    env = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    env = {k: (v.double() if v.is_floating_point() else v) for k, v in env.items()}
    env[model.graph.input[0].name] = torch.from_numpy(x).double()
    for n in model.graph.node:
        a, ins = attrs(n), [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == "Conv":
            p = a["pads"]
            y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, stride=a["strides"],
                         padding=(p[0], p[1]), groups=a.get("group", 1))
            check(p[0] == p[2] and p[1] == p[3], f"{n.name}: asymmetric pads {p}")
        elif op == "BatchNormalization":
            y = F.batch_norm(ins[0], ins[3], ins[4], ins[1], ins[2], training=False,
                             eps=a.get("epsilon", 1e-5))
        elif op == "Relu":
            y = F.relu(ins[0])
        elif op == "Clip":
            y = torch.clamp(ins[0], float(ins[1]), float(ins[2]))
        elif op == "HardSwish":
            y = F.hardswish(ins[0])
        elif op == "HardSigmoid":
            check(abs(a["alpha"] - 1 / 6) < 1e-7 and a["beta"] == 0.5, f"{n.name}: {a}")
            y = F.hardsigmoid(ins[0])
        elif op == "Sigmoid":
            y = torch.sigmoid(ins[0])
        elif op == "Mul":
            y = ins[0] * ins[1]
        elif op == "Add":
            y = ins[0] + ins[1]
        elif op == "GlobalAveragePool":
            y = ins[0].mean(dim=(2, 3), keepdim=True)
        elif op == "Flatten":
            y = torch.flatten(ins[0], a.get("axis", 1))
        elif op == "Gemm":
            check(a.get("transB") == 1, f"{n.name}: transB")
            y = F.linear(ins[0], ins[1], ins[2])
        elif op == "Reshape":
            shape = [ins[0].shape[i] if s == 0 else int(s) for i, s in enumerate(ins[1].tolist())]
            y = ins[0].reshape(shape)
        elif op == "Transpose":
            y = ins[0].permute(*a["perm"])
        elif op == "Split":
            check(len(ins) == 1, f"{n.name}: sizes given")
            y = torch.chunk(ins[0], len(n.output), dim=a.get("axis", 0))
        elif op == "Concat":
            y = torch.cat(ins, dim=a["axis"])
        elif op == "Exp":
            y = torch.exp(ins[0])
        elif op == "Resize":
            scale = ins[2].tolist()
            check(scale[:2] == [1.0, 1.0] and scale[2] == scale[3], f"{n.name}: scales {scale}")
            mode = a["mode"].decode()
            ct = a["coordinate_transformation_mode"].decode()
            if mode == "nearest":  # torch's nearest reads floor(i * in / out): asymmetric, floor
                check(ct == "asymmetric" and a["nearest_mode"].decode() == "floor",
                      f"{n.name}: {a}")
                y = F.interpolate(ins[0], scale_factor=scale[2], mode="nearest")
            else:
                check(mode == "linear" and ct == "half_pixel", f"{n.name}: {a}")
                y = F.interpolate(ins[0], scale_factor=scale[2], mode="bilinear",
                                  align_corners=False)
        else:
            raise RuntimeError(f"op {op} not handled by the checker")
        for name, v in zip(n.output, y if isinstance(y, tuple) else (y,)):
            env[name] = v
    return env[model.graph.output[0].name].numpy()


def perturb_bn(model, rng):
    """Random BatchNorm statistics and affine parameters, so BN is no near-identity at init."""
    inits = {i.name: i for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type != "BatchNormalization":
            continue
        for name, lo, hi in zip(n.input[1:], (0.5, -0.5, -0.5, 0.5), (1.5, 0.5, 0.5, 2.0)):
            t = inits[name]
            v = rng.uniform(lo, hi, numpy_helper.to_array(t).shape).astype(np.float32)
            t.CopyFrom(numpy_helper.from_array(v, name))
