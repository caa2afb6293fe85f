"""``fit(engine="torch", device=...)``: the optimiser step on a PyTorch device, the loop stays mlp's.

This module owns one training step run by PyTorch — forward pass, loss, backward
pass (autograd), the L2/L1 penalties, gradient clipping and the update by the
``torch.optim`` optimiser that has mlp's optimiser's formula and state — on a
device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``), optionally wrapped in
``DistributedDataParallel`` for several processes (``mlp.distributed``). Batching,
the shuffling order, schedules, History, callbacks, early stopping,
``TrainingDiverged``, Ctrl-C and exact resume stay in mlp's fit loop
(``mlp.training``): the step syncs the weights (and the optimiser's state) back
into ``net.params`` whenever the loop's hooks need them, and takes them back after.

The parameters live on the device as one flat tensor θ, laid out as
``net.params`` (every W row by row, then every b), so one ``torch.optim``
optimiser over θ is mlp's optimiser over the flat vector, step for step:

    SGD / GD / Momentum / Nesterov → torch.optim.SGD     velocity ↔ momentum_buffer
    Adam, AdamW                    → torch.optim.Adam(W)  m, v, v_max ↔ exp_avg, exp_avg_sq, max_exp_avg_sq
    RMSprop                        → torch.optim.RMSprop  square_avg, grad_avg, velocity ↔ …, momentum_buffer

PyTorch is imported inside the functions that use it: ``import mlp`` needs NumPy alone.
"""

from __future__ import annotations

import math

import numpy as np

from . import activations as _act
from . import losses as _losses
from . import optimizers as _optimizers

__all__ = ["TorchStep", "require_torch", "resolve_device"]

ENGINES = ("numpy", "torch")

#: Set by a Ctrl-C in a worker of mlp.distributed; every rank learns it at the next all-reduce:
#: [stop after the current batch, stop after the current epoch]. AGREED: what every rank knows
#: from the last all-reduce (the same on every rank), and whether a batch was refused for it.
_STOP = [False, False]
AGREED = {"epoch": False, "batch": False}


def request_stop(*_args) -> None:
    """Ask a data-parallel run to stop after the current batch (every rank after the same one)."""
    _STOP[0] = True


def request_stop_after_epoch(*_args) -> None:
    """Ask a data-parallel run to stop at the end of the current epoch (every rank after the same
    one: ``AGREED["epoch"]``, which ``mlp.distributed``'s epoch guard reads at each epoch's end)."""
    _STOP[1] = True


def require_torch():
    """``import torch``, or an ImportError that says how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError("engine='torch' needs PyTorch: pip install 'mlp[torch]' "
                          "(or pip install torch)") from None
    return torch


def check_engine(engine, device) -> None:
    """``ValueError``/``TypeError`` for an unknown engine or a device without engine='torch'."""
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
    if engine == "numpy" and device not in (None, "cpu"):
        raise ValueError(f"device={device!r} needs engine='torch' (the NumPy engine runs on the CPU)")


def resolve_device(device):
    """A ``torch.device`` that exists here, or one clear ``ValueError``."""
    torch = require_torch()
    if device is None:
        device = "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r} ({exc})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r}: no CUDA device is available here "
                             "(torch.cuda.is_available() is False); use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: there are {torch.cuda.device_count()} CUDA devices "
                             f"(cuda:0 … cuda:{torch.cuda.device_count() - 1})")
    elif dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"device={device!r}: MPS (Apple GPU) is not available here; use device='cpu'")
    elif dev.type != "cpu":
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}")
    return dev


def _activation(torch, activation):
    """The torch function for an mlp activation (the same formula)."""
    F = torch.nn.functional
    if isinstance(activation, _act.Identity):
        return None
    if isinstance(activation, _act.LeakyReLU):
        slope = activation.negative_slope
        return lambda z: F.leaky_relu(z, slope)
    if isinstance(activation, _act.Softplus):
        return lambda z: torch.clamp(z, min=0) + torch.log1p(torch.exp(-torch.abs(z)))
    table = {_act.ReLU: torch.relu, _act.Sigmoid: torch.sigmoid, _act.Tanh: torch.tanh,
             _act.Softmax: lambda z: torch.softmax(z, dim=1)}
    fn = table.get(type(activation))
    if fn is None:
        raise ValueError(f"engine='torch' has no {type(activation).__name__} activation; known: "
                         "identity, relu, leaky_relu, sigmoid, tanh, softplus, softmax")
    return fn


def _torch_optimizer(torch, opt, params):
    """The torch.optim optimiser with mlp's optimiser's formula and hyper-parameters."""
    if isinstance(opt, _optimizers.SGD):
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, dampening=opt.dampening,
                               weight_decay=opt.weight_decay, nesterov=opt.nesterov, foreach=False)
    if isinstance(opt, _optimizers.Adam):
        cls = torch.optim.AdamW if opt._decoupled else torch.optim.Adam
        return cls(params, lr=opt.lr, betas=tuple(opt.betas), eps=opt.eps, weight_decay=opt.weight_decay,
                   amsgrad=opt.amsgrad, foreach=False)
    if isinstance(opt, _optimizers.RMSprop):
        return torch.optim.RMSprop(params, lr=opt.lr, alpha=opt.alpha, eps=opt.eps,
                                   weight_decay=opt.weight_decay, momentum=opt.momentum,
                                   centered=opt.centered, foreach=False)
    raise ValueError(f"engine='torch' trains with SGD, GD, Momentum, Nesterov, Adam, AdamW or RMSprop; "
                     f"got {type(opt).__name__}")


#: mlp optimiser buffer → torch.optim state key
_STATE_KEYS = {
    "sgd": {"velocity": "momentum_buffer"},
    "adam": {"m": "exp_avg", "v": "exp_avg_sq", "v_max": "max_exp_avg_sq"},
    "rmsprop": {"square_avg": "square_avg", "grad_avg": "grad_avg", "velocity": "momentum_buffer"},
}


def _kind(opt) -> str:
    if isinstance(opt, _optimizers.SGD):
        return "sgd"
    return "adam" if isinstance(opt, _optimizers.Adam) else "rmsprop"


class TorchStep:
    """One optimiser step of ``fit`` run by PyTorch on ``device``.

    Parameters
    ----------
    net : Network
    opt : mlp.optimizers.Optimizer
        Its hyper-parameters (``lr`` read at every step: schedules keep working)
        and state are mirrored by a ``torch.optim`` optimiser.
    loss : mlp.losses.Loss
    device : str or torch.device
    weight_decay, l1 : float
        The penalties ½ λ ‖w‖² + λ₁ ‖w‖₁ on the weights (not the biases).
    clip_norm, clip_value : float or None
        As fit: entries clipped to ±clip_value, then g scaled by
        clip_norm / (‖g‖ + 1e-6) when ‖g‖ > clip_norm.
    keep : list of float, optional
        Dropout keep probabilities per hidden layer; the masks are drawn from
        ``rng`` on the host exactly as the NumPy engine draws them.
    rng : numpy.random.Generator, optional
    rank, world : int
        For ``mlp.distributed``: this process's place among ``world`` processes;
        θ is then wrapped in ``DistributedDataParallel`` and the step's loss is
        this rank's share of the global batch's loss.
    """

    def __init__(self, net, opt, loss, *, device="cpu", weight_decay=0.0, l1=0.0, clip_norm=None,
                 clip_value=None, keep=None, rng=None, rank=0, world=1):
        torch = require_torch()
        self.torch = torch
        self.net, self.opt, self.loss = net, opt, loss
        self.device = resolve_device(device)
        if net.dtype == np.float64 and self.device.type == "mps":
            raise ValueError("device='mps' has no float64: build the network with dtype=np.float32")
        self.dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[net.dtype]
        self.kind = _kind(opt)
        self.weight_decay, self.l1 = float(weight_decay), float(l1)
        self.clip_norm, self.clip_value = clip_norm, clip_value
        self.keep = list(keep) if keep is not None else [1.0] * (len(net.layers) - 1)
        self.rng = rng
        self.rank, self.world = int(rank), int(world)
        self.acts = [_activation(torch, layer.activation) for layer in net.layers]
        sizes = [(layer.n_out, layer.n_in) for layer in net.layers]
        self.w_at = np.cumsum([0] + [a * b for a, b in sizes]).tolist()
        self.b_at = (self.w_at[-1] + np.cumsum([0] + [a for a, _ in sizes])).tolist()
        self.n_w = self.w_at[-1]
        self.sizes = sizes
        self.theta = torch.nn.Parameter(torch.zeros(net.n_params, dtype=self.dtype, device=self.device))
        self.module = _module(torch, self)
        self.model = self.module
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel
            self.model = DistributedDataParallel(self.module, device_ids=None if self.device.type == "cpu"
                                                 else [self.device])
        self.topt = _torch_optimizer(torch, opt, [self.theta])
        self.stop_all = False            # some rank asked to stop (Ctrl-C): all stop after this batch
        self.last_output = None          # ŷ of the last batch on the device (for accuracy)
        self.hidden_h = {}               # hidden layer index → h of the last batch (device)
        self.load_from_net()

    # -- weights and optimiser state between net (host) and θ (device)
    def load_from_net(self) -> None:
        """net.params and the mlp optimiser's state → θ and the torch optimiser's state."""
        torch = self.torch
        with torch.no_grad():
            self.theta.copy_(torch.from_numpy(np.ascontiguousarray(self.net.params)).to(self.device))
        state = {}
        for mine, theirs in _STATE_KEYS[self.kind].items():
            buf = getattr(self.opt, mine, None)
            if buf is not None:
                state[theirs] = torch.from_numpy(np.array(buf, dtype=self.net.dtype)).to(self.device)
        if self.kind != "sgd" and state:
            state["step"] = torch.tensor(float(self.opt.t), dtype=torch.float32)
        self.topt.state.clear()
        if state:
            self.topt.state[self.theta] = state

    def sync_to_net(self) -> None:
        """θ and the torch optimiser's state → net.params and the mlp optimiser (for the loop's hooks)."""
        self.net.params[...] = self.theta.detach().to("cpu").numpy()
        state = self.topt.state.get(self.theta, {})
        for mine, theirs in _STATE_KEYS[self.kind].items():
            if mine in self.opt._buffers:
                value = state.get(theirs)
                setattr(self.opt, mine, None if value is None else value.detach().to("cpu").numpy().copy())

    # -- one step
    def _tensor(self, a, dtype=None):
        t = self.torch.from_numpy(np.ascontiguousarray(a))
        return t.to(self.device, dtype=dtype) if dtype is not None else t.to(self.device)

    def forward_z(self, X, masks=None):
        """The output layer's z (and records ŷ and hidden h) for a batch tensor X."""
        theta, h = self.theta, X
        last = len(self.sizes) - 1
        z = None
        for i, (n_out, n_in) in enumerate(self.sizes):
            W = theta[self.w_at[i]:self.w_at[i + 1]].view(n_out, n_in)
            b = theta[self.b_at[i]:self.b_at[i + 1]]
            z = self.torch.addmm(b, h, W.t())
            act = self.acts[i]
            h = z if act is None else act(z)
            if i < last:
                self.hidden_h[i] = h
                if masks is not None and masks[i] is not None:
                    h = h * masks[i]
        self.last_output = h
        return z, h

    def _loss(self, z, out, y, w, n_global):
        """This rank's part of the global batch's loss (mlp.losses' formula and reduction)."""
        torch, loss = self.torch, self.loss
        n_out = out.shape[1]
        if isinstance(loss, _losses.MSE):
            diff = out - y
            per = diff * diff
            if w is not None:
                per = per * w[:, None]
            scale = {"half_sum": 0.5, "sum": 1.0, "mean": 1.0 / max(n_global * n_out, 1)}[loss.reduction]
            return per.sum() * scale
        if isinstance(loss, _losses.CrossEntropy):
            log_p = z - torch.logsumexp(z, dim=1, keepdim=True)
            if y.ndim == 1:
                per = -log_p.gather(1, y[:, None])[:, 0]
            else:
                per = -(y * log_p).sum(dim=1)
            if w is not None:
                per = per * w
            return per.sum() / (n_global if loss.reduction == "mean" else 1)
        if isinstance(loss, _losses.BinaryCrossEntropy):
            softplus = torch.clamp(z, min=0) + torch.log1p(torch.exp(-torch.abs(z)))
            per = softplus - y * z
            if w is not None:
                per = per * w[:, None]
            return per.sum() / (n_global * n_out if loss.reduction == "mean" else 1)
        raise ValueError(f"engine='torch' has no {type(loss).__name__} loss; known: mse, cross_entropy, "
                         "binary_cross_entropy")

    def _masks(self, n_rows, n_global, offset):
        """Dropout masks for this rank's rows, drawn for the whole global batch (as the NumPy engine)."""
        if all(k >= 1 for k in self.keep):
            return None
        masks = []
        for i, k in enumerate(self.keep):
            if k >= 1:
                masks.append(None)
                continue
            m = (self.rng.random((n_global, self.sizes[i][0])) < k).astype(self.net.dtype)
            m *= 1 / k
            masks.append(self._tensor(m[offset:offset + n_rows]))
        return masks

    def penalty(self):
        w = self.theta[:self.n_w]
        value = None
        if self.weight_decay:
            value = 0.5 * self.weight_decay * (w * w).sum()
        if self.l1:
            p = self.l1 * w.abs().sum()
            value = p if value is None else value + p
        return value

    def __call__(self, Xb, yb, swb=None, *, n_global=None, offset=0):
        """One optimiser step on this batch; returns (loss value, penalty value) as floats.

        The loss value is the global batch's (all ranks summed); it is checked by the
        caller, which raises TrainingDiverged before any update when it is not finite:
        the update is then not applied (``apply=False`` semantics are the caller's).
        """
        torch = self.torch
        n_global = Xb.shape[0] if n_global is None else n_global
        X = self._tensor(Xb, self.dtype)
        labels = isinstance(self.loss, _losses.CrossEntropy) and np.asarray(yb).ndim == 1
        y = self._tensor(yb, torch.long if labels else self.dtype)
        w = None if swb is None else self._tensor(swb, self.dtype)
        masks = self._masks(Xb.shape[0], n_global, offset)
        self.topt.zero_grad(set_to_none=False)
        z, out = self.forward_z(X, masks) if self.world == 1 else self._ddp_forward(X, masks)
        local = self._loss(z, out, y, w, n_global)
        if self.world > 1:         # the global loss, and whether any rank was asked to stop
            both = torch.cat([local.detach().reshape(1),
                              torch.tensor(_STOP, dtype=local.dtype, device=local.device)])
            torch.distributed.all_reduce(both)
            value, self.stop_all = float(both[0]), bool(both[1] > 0)
            AGREED["epoch"] = bool(both[2] > 0)
        else:
            value = float(local.detach())
            self.stop_all, AGREED["epoch"] = _STOP[0], _STOP[1]
        if not math.isfinite(value):
            return value, 0.0
        pen = self.penalty()
        total = local * self.world if self.world > 1 else local
        if pen is not None:
            total = total + pen
        total.backward()
        g = self.theta.grad
        if self.clip_value is not None:
            g.clamp_(-self.clip_value, self.clip_value)
        if self.clip_norm is not None:
            norm = torch.sqrt(torch.dot(g, g))
            g.mul_(torch.where(norm > self.clip_norm, self.clip_norm / (norm + 1e-6),
                               torch.ones_like(norm)))
        for group in self.topt.param_groups:
            group["lr"] = self.opt.lr
        self.topt.step()
        self.opt.t += 1
        return value, (0.0 if pen is None else float(pen.detach()))

    def _ddp_forward(self, X, masks):
        return self.model(X, masks)

    def correct(self, labels_b, binary: bool) -> int:
        """How many rows of the last batch were classified right (ŷ on the device)."""
        out = self.last_output.detach()
        pred = (out > 0.5)[:, 0] if binary else out.argmax(dim=1)
        return int((pred.to("cpu").numpy() == np.asarray(labels_b)).sum())

    def hidden_activity(self, i):
        """h of hidden layer i on the last batch, on the host (for ReLU care)."""
        return self.hidden_h[i].detach().to("cpu").numpy()


def _module(torch, step):
    """θ as an nn.Module whose forward is the network (what DistributedDataParallel wraps)."""

    class _Flat(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.theta = step.theta

        def forward(self, X, masks=None):
            return step.forward_z(X, masks)

    return _Flat()


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows [lo, hi) of a global batch of n rows that rank ``rank`` of ``world`` reads."""
    return rank * n // world, (rank + 1) * n // world


def process_group():
    """(rank, world) of the torch.distributed process group this process is in, else (0, 1)."""
    try:
        import torch.distributed as dist
    except ImportError:
        return 0, 1
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class EngineStep:
    """The step interface of ``mlp.training.steps`` (``begin_epoch``, ``__call__``, ``penalty``,
    ``output``, ``sync``, ``end_epoch``) over a :class:`TorchStep`.

    The weights live on the device while the epoch runs. ``sync()`` copies θ, ∂L/∂θ and the
    layers' z and h of the last batch (the whole global batch's, gathered from the ranks)
    into the network, and the optimiser's state into mlp's optimiser, for the hooks;
    ``begin_epoch`` takes ``net.params`` and that state back to the device, so what the
    epoch-end hooks did (ReLU care's re-draws, early stopping's restore, a callback's
    change) is what the next epoch trains.

    With a process group (``mlp.distributed``), the batch source gives this rank its rows
    of the global batch (``part``) and the targets of the whole batch.
    """

    syncs = True                   # the weights live on the device: sync() copies them back

    def __init__(self, net, optimizer, loss, opts, state, on_nonfinite):
        rank, world = process_group()
        self.part = (rank, world) if world > 1 else None
        keep = [1 - r for r in opts.dropout]
        self.core = TorchStep(net, optimizer, loss, device=getattr(opts, "device", None) or "cpu",
                              weight_decay=opts.weight_decay, l1=opts.l1, clip_norm=opts.clip_norm,
                              clip_value=opts.clip_value, keep=keep, rng=state.rng, rank=rank, world=world)
        self.net, self.opt, self.loss, self.state = net, optimizer, loss, state
        self.on_nonfinite = on_nonfinite
        self.rank, self.world = rank, world
        self.penalty = 0.0
        self.lr = optimizer.lr
        self._bounds = (0, 0, 0)
        self._cached = self._hs = None

    def begin_epoch(self, lr: float) -> None:
        self.lr, self.penalty = lr, 0.0
        self.core.rng = self.state.rng
        self.core.load_from_net()

    def __call__(self, batch) -> float:
        if self.core.stop_all:          # a rank's Ctrl-C, known to all after the last batch's all-reduce
            AGREED["batch"] = True
            raise KeyboardInterrupt
        n = batch.y.shape[0]
        lo, hi = shard_bounds(n, self.rank, self.world) if self.part else (0, n)
        self._bounds = (n, lo, hi)
        y = batch.y[lo:hi]
        sw = None if batch.sample_weight is None else batch.sample_weight[lo:hi]
        value, pen = self.core(batch.X, y, sw, n_global=n, offset=lo)
        if not math.isfinite(value):
            self.sync()
            self.on_nonfinite(batch.number, value)
        self.penalty += pen
        self.state.step += 1
        return value

    def _gather(self, t):
        """The rows of the whole global batch from every rank's rows (host ndarray)."""
        t = t.detach()
        if self.world == 1:
            return t.to("cpu").numpy()
        import torch.distributed as dist
        torch = self.core.torch
        n = self._bounds[0]
        rows = [shard_bounds(n, r, self.world) for r in range(self.world)]
        width = max(hi - lo for lo, hi in rows)
        pad = torch.zeros((width, *t.shape[1:]), dtype=t.dtype, device=t.device)
        pad[:t.shape[0]] = t
        got = [torch.empty_like(pad) for _ in range(self.world)]
        dist.all_gather(got, pad)
        return torch.cat([g[:hi - lo] for g, (lo, hi) in zip(got, rows)]).to("cpu").numpy()

    def _caches(self):
        """Every layer's h of the last batch (the whole global batch's), gathered once per batch."""
        core = self.core
        if self._cached is not core.last_output:
            hs = [core.hidden_h[i].detach() for i in sorted(core.hidden_h)] + [core.last_output.detach()]
            both = self._gather(core.torch.cat(hs, dim=1))     # one collective for all layers
            cols = np.cumsum([0] + [h.shape[1] for h in hs])
            self._hs = [both[:, a:b] for a, b in zip(cols[:-1], cols[1:])]
            self._cached = core.last_output
        return self._hs

    def output(self) -> np.ndarray:
        return self._caches()[-1]

    def sync(self) -> None:
        core = self.core
        core.sync_to_net()
        if core.theta.grad is not None:
            self.net.grads[...] = core.theta.grad.detach().to("cpu").numpy()
        if core.last_output is None:
            return
        hs = self._caches()
        for i, h in zip(sorted(core.hidden_h), hs[:-1]):
            self.net.layers[i].h = h
        self.net.layers[-1].h = hs[-1]

    def end_epoch(self) -> None:
        """After the epoch's last batch: net.params, net.grads and the caches current."""
        self.sync()


def torch_step(net, optimizer, loss, opts, state, on_nonfinite) -> EngineStep:
    """The step factory of ``engine="torch"`` (registered in ``mlp.training.steps.ENGINES``)."""
    require_torch()
    return EngineStep(net, optimizer, loss, opts, state, on_nonfinite)
