"""Reference numbers of the training controls from PyTorch (made with 1.13):
torch.optim.SGD (momentum, dampening, Nesterov, weight decay), the schedulers StepLR,
CosineAnnealingLR, LinearLR and their ChainedScheduler, and clip_grad_norm_.

    python3 controls_ref.py > controls.json
"""
import json

import torch

torch.set_default_dtype(torch.float64)

W0 = [0.5, -1.25, 2.0, 0.125]
GRADS = [[0.1, -0.2, 0.3, 0.05], [-0.4, 0.25, 0.1, 0.0], [0.2, 0.2, -0.6, 1.5], [0.05, -0.1, 0.0, 0.3]]


def sgd_case(name, **kw):
    w = torch.nn.Parameter(torch.tensor(W0))
    opt = torch.optim.SGD([w], **kw)
    after = []
    for g in GRADS:
        w.grad = torch.tensor(g)
        opt.step()
        after.append(w.detach().tolist())
    return {"name": name, "lr": kw["lr"], "momentum": kw.get("momentum", 0), "dampening": kw.get("dampening", 0),
            "nesterov": kw.get("nesterov", False), "weight_decay": kw.get("weight_decay", 0), "weights": after}


def schedule_case(name, steps, make):
    w = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=0.2)
    sched = make(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return {"name": name, "base": 0.2, "lrs": lrs}


def clip_case(max_norm):
    a = torch.nn.Parameter(torch.zeros(2, 2))
    b = torch.nn.Parameter(torch.zeros(3))
    a.grad = torch.tensor([[0.3, -1.2], [2.5, 0.0]])
    b.grad = torch.tensor([-0.7, 0.4, 1.1])
    n = torch.nn.utils.clip_grad_norm_([a, b], max_norm)
    return {"max_norm": max_norm, "norm": float(n), "grads": [a.grad.flatten().tolist(), b.grad.tolist()]}


S = torch.optim.lr_scheduler
out = {
    "torch": torch.__version__,
    "w0": W0,
    "grads": GRADS,
    "sgd": [
        sgd_case("plain", lr=0.1),
        sgd_case("weight decay", lr=0.1, weight_decay=0.01),
        sgd_case("momentum", lr=0.1, momentum=0.9),
        sgd_case("momentum, dampening", lr=0.1, momentum=0.9, dampening=0.5),
        sgd_case("nesterov", lr=0.1, momentum=0.9, nesterov=True),
        sgd_case("nesterov, weight decay", lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
    ],
    "schedules": [
        schedule_case("step", 10, lambda o: S.StepLR(o, step_size=3, gamma=0.5)),
        schedule_case("cosine", 9, lambda o: S.CosineAnnealingLR(o, T_max=8, eta_min=0.01)),
        schedule_case("warmup", 7, lambda o: S.LinearLR(o, start_factor=0.25, total_iters=4)),
        schedule_case("warmup, cosine", 11, lambda o: S.ChainedScheduler([S.LinearLR(o, start_factor=0.25, total_iters=4), S.CosineAnnealingLR(o, T_max=10)])),
        schedule_case("warmup, step", 9, lambda o: S.ChainedScheduler([S.LinearLR(o, start_factor=0.5, total_iters=3), S.StepLR(o, step_size=4, gamma=0.1)])),
    ],
    "clip": [clip_case(1.0), clip_case(100.0)],
}
print(json.dumps(out, indent=1))
