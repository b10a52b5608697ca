"""Benchmark every layer of code/layers.py against the same torch.nn layer.

Forward plus backward, float32, the same weights on both sides, one thread each. Our layers run
in a worker process that never imports torch, the way a reader runs them (importing torch
changes how memory is allocated and flatters numpy); torch runs in a second worker process. The
driver (this script) interleaves the two run by run, and which goes first alternates, so that a
change in the machine's load hits both alike. For every case it reports the median time of each
side and the ratio ours/PyTorch (the median of the ratios of the interleaved pairs), checks the
two results against each other, writes everything with the machine, the versions and the date
to bench/results.json and prints a table.

    make bench                                    # every case -> bench/results.json
    .venv/bin/python bench/run.py --quick         # a short smoke run (writes nothing)
    .venv/bin/python bench/run.py --cases linear,lstm --output /tmp/r.json
"""

import os
import sys

# BLAS reads its thread count once, when numpy is first imported: set the variables before that
# (the workers inherit them), and start again if something imported numpy earlier.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
if any(os.environ.get(v) != "1" for v in THREAD_VARIABLES):
    os.environ.update({v: "1" for v in THREAD_VARIABLES})
    if "numpy" in sys.modules or "torch" in sys.modules:
        os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import pickle  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "code"))
import layers as L  # noqa: E402  (numpy only: the driver and both workers may import it)

F32 = np.float32


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(F32)


# --------------------------------------------------------------------------------------
# Cases. A case names a layer of ours, its torch twin and an input; each worker builds its
# own side from that description (the torch worker builds our layer too, for its weights).
# --------------------------------------------------------------------------------------


class LayerCase:
    """One layer, forward + backward. ``call``: how the layer is called ('plain', 'recurrent'
    (output is (y, state)), 'attention' (query = key = value = x) or 'indices' (no dx))."""

    def __init__(self, key, name, group, target, ours, theirs, x, call="plain", compare=True):
        self.key, self.name, self.group, self.target = key, name, group, target
        self.make_ours, self.make_theirs, self.make_x = ours, theirs, x
        self.call, self.compare = call, compare
        self.repeats = None  # None: the command line's

    def available(self):
        try:
            self.make_ours()
        except (AttributeError, TypeError) as error:  # a class or an argument that layers.py lacks
            return f"{type(error).__name__}: {error}"
        return None


def layer_cases():
    x_img, x_wide, x_seq = (lambda: randn(32, 32, 32, 32)), (lambda: randn(256, 4096)), (lambda: randn(50, 32, 64))
    C = LayerCase
    yield C("linear", "Linear 256×512→512", "linear", 1.2,
            lambda: L.Linear(512, 512, rng=0), lambda nn: nn.Linear(512, 512), lambda: randn(256, 512))
    yield C("conv2d", "Conv2d N32 C16 32×32 k3→32 pad 1", "convolution", 2.5,
            lambda: L.Conv2d(16, 32, 3, padding=1, rng=0), lambda nn: nn.Conv2d(16, 32, 3, padding=1),
            lambda: randn(32, 16, 32, 32))
    yield C("conv2d-s2", "Conv2d N16 C32 16×16 k3→64 stride 2", "convolution", 2.5,
            lambda: L.Conv2d(32, 64, 3, stride=2, rng=0), lambda nn: nn.Conv2d(32, 64, 3, stride=2),
            lambda: randn(16, 32, 16, 16))
    yield C("conv2d-depthwise", "Conv2d depthwise N32 C32 32×32 k3 pad 1", "convolution", 3.0,
            lambda: L.Conv2d(32, 32, 3, padding=1, groups=32, rng=0),
            lambda nn: nn.Conv2d(32, 32, 3, padding=1, groups=32), x_img)
    yield C("convtranspose2d", "ConvTranspose2d N16 C32→16 16×16 k4 s2 p1", "convolution", 2.5,
            lambda: L.ConvTranspose2d(32, 16, 4, stride=2, padding=1, rng=0),
            lambda nn: nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), lambda: randn(16, 32, 16, 16))
    yield C("conv1d", "Conv1d N64 C16 L200 k5→16", "convolution", 2.5,
            lambda: L.Conv1d(16, 16, 5, rng=0), lambda nn: nn.Conv1d(16, 16, 5), lambda: randn(64, 16, 200))
    yield C("maxpool2d", "MaxPool2d 2 (N32 C32 32×32)", "pooling", 2.0,
            lambda: L.MaxPool2d(2), lambda nn: nn.MaxPool2d(2), x_img)
    yield C("maxpool2d-3s2p1", "MaxPool2d 3 stride 2 pad 1", "pooling", 2.0,
            lambda: L.MaxPool2d(3, 2, 1), lambda nn: nn.MaxPool2d(3, 2, 1), x_img)
    yield C("avgpool2d", "AvgPool2d 2 (N32 C32 32×32)", "pooling", 2.0,
            lambda: L.AvgPool2d(2), lambda nn: nn.AvgPool2d(2), x_img)
    yield C("maxpool1d", "MaxPool1d 4 (N64 C16 L200)", "pooling", 2.0,
            lambda: L.MaxPool1d(4), lambda nn: nn.MaxPool1d(4), lambda: randn(64, 16, 200))
    yield C("global-avgpool", "Global average pooling N32 C256 8×8", "pooling", 2.0,
            lambda: L.AdaptiveAvgPool2d(1), lambda nn: nn.AdaptiveAvgPool2d(1), lambda: randn(32, 256, 8, 8))
    yield C("batchnorm1d", "BatchNorm1d N256×512", "normalisation", 2.5,
            lambda: L.BatchNorm1d(512), lambda nn: nn.BatchNorm1d(512), lambda: randn(256, 512))
    yield C("batchnorm2d", "BatchNorm2d N32 C32 32×32", "normalisation", 2.0,
            lambda: L.BatchNorm2d(32), lambda nn: nn.BatchNorm2d(32), x_img)
    yield C("layernorm", "LayerNorm N256×512", "normalisation", 3.0,
            lambda: L.LayerNorm(512), lambda nn: nn.LayerNorm(512), lambda: randn(256, 512))
    yield C("groupnorm", "GroupNorm 8 groups N32 C32 32×32", "normalisation", 2.5,
            lambda: L.GroupNorm(8, 32), lambda nn: nn.GroupNorm(8, 32), x_img)
    yield C("rmsnorm", "RMSNorm N256×512", "normalisation", 3.0,
            lambda: L.RMSNorm(512), lambda nn: nn.RMSNorm(512), lambda: randn(256, 512))
    yield C("dropout", "Dropout 0.5 on 256×4096", "elementwise", 2.0,
            lambda: L.Dropout(0.5, rng=0), lambda nn: nn.Dropout(0.5), x_wide, compare=False)
    yield C("relu", "ReLU on 256×4096", "elementwise", 2.0, lambda: L.ReLU(), lambda nn: nn.ReLU(), x_wide)
    yield C("gelu", "GELU on 256×4096", "elementwise", 5.0, lambda: L.GELU(), lambda nn: nn.GELU(), x_wide)
    yield C("softmax", "Softmax on 256×4096", "elementwise", 2.5,
            lambda: L.Softmax(dim=1), lambda nn: nn.Softmax(dim=1), x_wide)
    yield C("embedding", "Embedding 21×16 on 256×200", "elementwise", 2.0,
            lambda: L.Embedding(21, 16, padding_idx=0, rng=0), lambda nn: nn.Embedding(21, 16, padding_idx=0),
            lambda: np.random.default_rng(0).integers(0, 21, (256, 200)), call="indices")
    for key, name in [("rnn", "RNN"), ("lstm", "LSTM"), ("gru", "GRU")]:
        yield C(key, f"{name} T50 N32 64→128", "recurrent", 2.0,
                lambda name=name: getattr(L, name)(64, 128, rng=0),
                lambda nn, name=name: getattr(nn, name)(64, 128), x_seq, call="recurrent")
    yield C("lstm-2-bidirectional", "LSTM 2 layers bidirectional T50 N32 64→128", "recurrent", 2.0,
            lambda: L.LSTM(64, 128, 2, bidirectional=True, rng=0),
            lambda nn: nn.LSTM(64, 128, 2, bidirectional=True), x_seq, call="recurrent")
    yield C("self-attention", "Self-attention L64 N16 E128, 8 heads", "attention", 2.5,
            lambda: L.MultiheadAttention(128, 8, rng=0), lambda nn: nn.MultiheadAttention(128, 8),
            lambda: randn(64, 16, 128), call="attention")
    yield C("encoder-layer", "Transformer encoder layer d128 8 heads ff512, L64 N16", "attention", 2.5,
            lambda: L.TransformerEncoderLayer(128, 8, 512, dropout=0.0, rng=0),
            lambda nn: nn.TransformerEncoderLayer(128, 8, 512, dropout=0.0), lambda: randn(64, 16, 128))


class SolubilityCase:
    """One epoch of the solubility model (the model of issue 4), with Adam."""

    key, group, target = "solubility-epoch", "training", 2.0
    call, compare = "epoch", True

    def __init__(self, quick):
        # the training split of the data set: 18,453 sequences less 10 % test and 10 % validation
        self.n_train = 18453 - 2 * 1845 if not quick else 16 * 20
        self.name = f"Solubility model: 1 epoch, {self.n_train:,} seqs, batch 16, Adam"
        self.repeats = 3 if quick else 5

    def available(self):
        return None


def all_cases(quick):
    yield from layer_cases()
    yield SolubilityCase(quick)


# --------------------------------------------------------------------------------------
# The workers: one side each, driven over a pipe
# --------------------------------------------------------------------------------------


class _ToChannels:
    """(N, L, C) -> (N, C, L): an Embedding's output as a Conv1d's input."""

    def __init__(self):
        self.params, self.grads, self.training = {}, {}, True

    def forward(self, x):
        return x.transpose(0, 2, 1)

    def backward(self, dy):
        return dy.transpose(0, 2, 1)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)


def our_solubility_model():
    try:  # the examples' own builder, when it exists
        from solubility import build_model
        model = build_model(rng=0)
    except ImportError:
        model = L.Sequential(
            L.Embedding(21, 16, padding_idx=0, rng=0), _ToChannels(),
            L.Conv1d(16, 16, 5, rng=1), L.ReLU(), L.MaxPool1d(4),
            L.Conv1d(16, 16, 3, rng=2), L.ReLU(), L.MaxPool1d(2),
            L.Conv1d(16, 16, 3, rng=3), L.ReLU(), L.MaxPool1d(2),
            L.Flatten(), L.Linear(160, 256, rng=4), L.ReLU(),
            L.Linear(256, 64, rng=5), L.ReLU(), L.Linear(64, 1, rng=6))
    assert sum(p.size for p in model.params.values()) == 60929, "not the model of issue 4"
    return model


def torch_solubility_model(torch):
    """A torch twin of our solubility model, with its weights."""
    nn, ours = torch.nn, our_solubility_model()

    class ToChannels(nn.Module):
        def forward(self, x):
            return x.transpose(1, 2)

    twin = []
    for layer in ours.layers:  # the same architecture, layer by layer
        kind = type(layer).__name__
        if kind == "Embedding":
            twin.append(nn.Embedding(layer.num_embeddings, layer.embedding_dim, padding_idx=layer.padding_idx))
        elif kind == "Conv1d":
            twin.append(nn.Conv1d(layer.in_channels, layer.out_channels, layer.kernel_size))
        elif kind == "Linear":
            twin.append(nn.Linear(layer.in_features, layer.out_features))
        elif kind == "MaxPool1d":
            twin.append(nn.MaxPool1d(layer.kernel_size))
        elif kind in ("ReLU", "Flatten"):
            twin.append(getattr(nn, kind)())
        elif kind == "Dropout":
            twin.append(nn.Dropout(layer.p))
        else:  # the (N, L, C) -> (N, C, L) step
            twin.append(ToChannels())
    twin = nn.Sequential(*twin)
    twin.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=F32).copy()) for k, v in ours.params.items()})
    return twin


class OurSide:
    """Our layer of a case, in the worker that has not imported torch."""

    def __init__(self, case):
        self.case = case
        if case.call == "epoch":
            self._epoch_data(case)
            return
        self.layer, self.x = case.make_ours(), case.make_x()
        y = self._forward()
        self.dy = np.random.default_rng(1).standard_normal(y.shape).astype(F32)

    def _epoch_data(self, case):
        rng = np.random.default_rng(0)
        self.tokens = rng.integers(1, 21, (case.n_train, 200))
        self.labels = rng.integers(0, 2, (case.n_train, 1)).astype(F32)
        order = rng.permutation(case.n_train)
        self.batches = [order[i:i + 16] for i in range(0, case.n_train, 16)]
        self.fresh()

    def fresh(self):  # every epoch from the same weights, so that both sides do the same work
        if self.case.call == "epoch":
            self.model = our_solubility_model()
            self.loss, self.opt = L.BCEWithLogitsLoss(), L.Adam(self.model, lr=1e-3)

    def _forward(self):
        call, layer, x = self.case.call, self.layer, self.x
        if call == "recurrent":
            return layer.forward(x)[0]
        if call == "attention":
            return layer.forward(x, x, x, need_weights=False)[0]
        return layer.forward(x)

    def run(self, batches=None):
        """One forward + backward (or one epoch); returns what the check compares."""
        if self.case.call == "epoch":
            total = 0.0
            for b in self.batches if batches is None else batches:
                total += self.loss.forward(self.model.forward(self.tokens[b]), self.labels[b])
                self.model.backward(self.loss.backward())
                self.opt.step()
            return total
        y = self._forward()
        dx = self.layer.backward(self.dy)
        if self.case.call == "attention":
            dx = sum(dx)  # query, key and value are all x
        return y, dx

    def check(self):
        if self.case.call == "epoch":
            # ten steps from the same weights: over a whole epoch on random labels the float32
            # rounding differences grow (Adam divides by the root of tiny second moments)
            self.fresh()
            loss = self.run(self.batches[:10]) / 10
            return {"mean loss": np.array(loss), **{k: p for k, p in self.model.params.items()}}
        y, dx = self.run()
        if not self.case.compare:  # dropout: the two sides draw different masks
            return {"dropped": float(np.mean(y == 0))}
        out = {"output": y, **{f"d{k}": g for k, g in self.layer.grads.items()}}
        if self.case.call != "indices":
            out["dx"] = dx
        return out


class TorchSide:
    """The torch twin of a case, with our layer's weights."""

    def __init__(self, case):
        import torch
        self.torch, self.case = torch, case
        if case.call == "epoch":
            self._epoch_data(case)
            return
        ours = case.make_ours()
        self.module = case.make_theirs(torch.nn)
        named = dict(self.module.named_parameters())
        with torch.no_grad():  # the same weights: ours, copied into torch's parameters
            for name, p in ours.params.items():
                named[name].copy_(torch.from_numpy(np.asarray(p, dtype=F32)))
        self.x = torch.from_numpy(case.make_x())
        if case.call != "indices":
            self.x.requires_grad_(True)
        y = self._forward()
        self.dy = torch.from_numpy(np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(F32))
        self.params = list(self.module.parameters())

    def _epoch_data(self, case):
        torch, rng = self.torch, np.random.default_rng(0)
        self.tokens = torch.from_numpy(rng.integers(1, 21, (case.n_train, 200)))
        self.labels = torch.from_numpy(rng.integers(0, 2, (case.n_train, 1)).astype(F32))
        order = rng.permutation(case.n_train)
        self.batches = [torch.from_numpy(order[i:i + 16]) for i in range(0, case.n_train, 16)]
        self.fresh()

    def fresh(self):
        if self.case.call == "epoch":
            self.model = torch_solubility_model(self.torch)
            self.loss = self.torch.nn.BCEWithLogitsLoss()
            self.opt = self.torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def _forward(self):
        call, module, x = self.case.call, self.module, self.x
        if call == "recurrent":
            return module(x)[0]
        if call == "attention":
            return module(x, x, x, need_weights=False)[0]
        return module(x)

    def run(self, batches=None):
        if self.case.call == "epoch":
            total = 0.0
            for b in self.batches if batches is None else batches:
                self.opt.zero_grad(set_to_none=True)
                value = self.loss(self.model(self.tokens[b]), self.labels[b])
                value.backward()
                self.opt.step()
                total += value.item()
            return total
        self.x.grad = None
        for p in self.params:  # ours overwrites its gradients: let torch start afresh too
            p.grad = None
        y = self._forward()
        y.backward(self.dy)
        return y

    def check(self):
        if self.case.call == "epoch":
            self.fresh()
            loss = self.run(self.batches[:10]) / 10
            return {"mean loss": np.array(loss),
                    **{k: p.detach().numpy() for k, p in self.model.named_parameters()}}
        y = self.run()
        out = {"output": y.detach().numpy(),
               **{f"d{k}": p.grad.numpy() for k, p in self.module.named_parameters()}}
        if self.case.call != "indices":
            out["dx"] = self.x.grad.numpy()
        return out


def side_info(side):
    info = {"numpy": np.__version__, "torch_imported": "torch" in sys.modules}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # the layout of show_config is not a stable API
        info["blas"] = "unknown"
    if side == "torch":
        import torch
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    return info


def worker(side):
    """Serve the driver: read a pickled request from stdin, write a pickled answer to stdout."""
    channel_in, channel_out = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # a stray print must not break the channel
    info = side_info(side)
    cases = {c.key: c for c in all_cases(quick="--quick" in sys.argv)}
    current = None
    while True:
        try:
            request = pickle.load(channel_in)
        except EOFError:
            return 0
        command, *args = request
        try:
            if command == "info":
                answer = info
            elif command == "setup":
                case = cases[args[0]]
                current = (OurSide if side == "ours" else TorchSide)(case)
                answer = None
            elif command == "check":
                answer = current.check()
            elif command == "fresh":
                answer = current.fresh()
            elif command == "calibrate":  # warm up (caches, allocator), then calls per run
                current.run()
                answer = max(1, math.ceil(args[0] / max(run_once(current.run, 1)[0], 1e-9)))
            elif command == "run":
                answer = run_once(current.run, args[0])
            elif command == "quit":
                return 0
            else:
                raise ValueError(f"unknown command {command!r}")
            reply = ("ok", answer)
        except Exception as error:
            reply = ("error", f"{type(error).__name__}: {error}")
        pickle.dump(reply, channel_out)
        channel_out.flush()


def run_once(f, number):
    """Seconds per call: (CPU time of this process, wall-clock time). The garbage collector is
    off while a run lasts, as in timeit: a collection in the middle of a run is noise."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(number):
            f()
        return (time.process_time() - cpu) / number, (time.perf_counter() - wall) / number
    finally:
        if gc_was_enabled:
            gc.enable()


class Worker:
    """The driver's end of one worker process."""

    def __init__(self, side, quick):
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", side] + (["--quick"] if quick else [])
        self.side = side
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def __call__(self, *request):
        pickle.dump(request, self.process.stdin)
        self.process.stdin.flush()
        status, answer = pickle.load(self.process.stdout)
        if status != "ok":
            raise RuntimeError(f"{self.side} worker, {request[0]}: {answer}")
        return answer

    def close(self):
        try:
            self("quit")
        except (BrokenPipeError, EOFError, RuntimeError):
            pass
        self.process.wait(timeout=30)


# --------------------------------------------------------------------------------------
# The driver: check, then time the two sides in interleaved runs
# --------------------------------------------------------------------------------------


def rel_err(a, b):
    """Largest absolute difference relative to the largest magnitude of the reference."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def check_case(case, ours, theirs):
    mine = ours("check")
    if set(mine) == {"dropped"}:
        return mine
    reference = theirs("check")
    assert set(mine) == set(reference), f"{case.key}: ours gives {sorted(mine)}, torch {sorted(reference)}"
    if case.call == "epoch":
        weights = max(rel_err(mine[k], reference[k]) for k in mine if k != "mean loss")
        return {"mean loss": rel_err(mine["mean loss"], reference["mean loss"]), "weights after 10 steps": weights}
    return {k: rel_err(mine[k], reference[k]) for k in sorted(mine)}


def time_case(case, ours, theirs, repeats, min_run):
    """Median seconds per call of each side and the median of the paired ratios.

    Each run calls a side ``number`` times (enough for ``min_run`` seconds); the sides take
    turns, and which goes first alternates, so a slow patch of the machine hits both. The clock
    is the CPU time of each worker process (both run on one thread): on a machine shared with
    other jobs, wall-clock time also counts the time spent waiting for a core. Wall-clock
    medians are recorded too."""
    sides = [ours, theirs]
    numbers = [side("calibrate", min_run) for side in sides]
    repeats = case.repeats or repeats
    cpu, wall = ([], []), ([], [])
    for r in range(repeats):
        for i in ((0, 1) if r % 2 == 0 else (1, 0)):
            c, w = sides[i]("run", numbers[i])
            cpu[i].append(c)
            wall[i].append(w)
    ratios = [a / b for a, b in zip(*cpu)]
    return {
        "ours_ms": 1e3 * statistics.median(cpu[0]),
        "torch_ms": 1e3 * statistics.median(cpu[1]),
        "ratio": statistics.median(ratios),
        "ratio_quartiles": [float(q) for q in np.percentile(ratios, [25, 75])],
        "wall_ours_ms": 1e3 * statistics.median(wall[0]),
        "wall_torch_ms": 1e3 * statistics.median(wall[1]),
        "repeats": repeats,
        "calls_per_run": numbers,
    }


def machine(ours_info, torch_info):
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = " ".join(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    assert not ours_info["torch_imported"], "the worker that times our layers has imported torch"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": ours_info["numpy"],
        "blas": ours_info["blas"],
        "torch": torch_info["torch"],
        "threads": {"torch": torch_info["torch_threads"], **{v: os.environ[v] for v in THREAD_VARIABLES}},
        "processes": "ours and torch in two worker processes; the one that times ours never imports torch",
    }


def worst(errors):
    """The check column: the largest relative difference from torch (float32 rounding is ~1e-6)."""
    if set(errors) == {"dropped"}:
        return f"dropped {errors['dropped']:.3f}"
    return f"{max(errors.values()):.1e}"


def print_table(results):
    header = f"{'case':<60}{'ours ms':>10}{'torch ms':>10}{'ratio':>8}{'target':>8}      {'max rel. difference':>20}"
    print(header)
    print("-" * len(header))
    for c in results["cases"]:
        mark = "ok" if c["met"] else "OVER"
        print(f"{c['name']:<60}{c['ours_ms']:>10.3f}{c['torch_ms']:>10.3f}{c['ratio']:>8.2f}"
              f"{c['target']:>8.1f}  {mark:<4}{worst(c['check']):>20}")
    met = sum(c["met"] for c in results["cases"])
    print("-" * len(header))
    print(f"{met} of {len(results['cases'])} cases at or under their target "
          f"(ratio = ours/PyTorch, forward + backward, float32, one thread)")
    for key, why in results.get("skipped", {}).items():
        print(f"skipped {key}: {why}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run: few repeats, short runs, a shortened epoch; writes nothing "
                             "unless --output is given")
    parser.add_argument("--cases", help="comma-separated case keys (default: all); --list shows them")
    parser.add_argument("--list", action="store_true", help="list the case keys and exit")
    parser.add_argument("--repeats", type=int, help="interleaved runs per case (default 21, quick 3)")
    parser.add_argument("--min-run", type=float, help="seconds per run (default 0.05, quick 0.005)")
    parser.add_argument("--output", type=Path, help="where to write the results (default bench/results.json)")
    parser.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    repeats = args.repeats or (3 if args.quick else 21)
    min_run = args.min_run or (0.005 if args.quick else 0.05)
    output = args.output or (None if args.quick else ROOT / "bench" / "results.json")

    cases = list(all_cases(args.quick))
    if args.list:
        for case in cases:
            print(f"{case.key:<24}{case.name}")
        return 0
    if args.cases:
        wanted = args.cases.split(",")
        unknown = set(wanted) - {c.key for c in cases}
        if unknown:
            parser.error(f"unknown case(s) {sorted(unknown)}; --list shows the keys")
        cases = [c for c in cases if c.key in wanted]
    skipped = {c.key: why for c in cases if (why := c.available())}  # a layer that layers.py lacks
    cases = [c for c in cases if c.key not in skipped]

    ours, theirs = Worker("ours", args.quick), Worker("torch", args.quick)
    try:
        results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   "machine": machine(ours("info"), theirs("info")), "quick": args.quick,
                   "settings": {"repeats": repeats, "min_run_seconds": min_run, "dtype": "float32"},
                   "cases": [], "skipped": skipped}
        for case in cases:
            ours("setup", case.key)
            theirs("setup", case.key)
            errors = check_case(case, ours, theirs)  # also warms both sides up
            ours("fresh")
            theirs("fresh")
            timing = time_case(case, ours, theirs, repeats, min_run)
            results["cases"].append({"key": case.key, "name": case.name, "group": case.group,
                                     "target": case.target, **timing,
                                     "met": timing["ratio"] <= case.target, "check": errors})
            print(f"  {case.name}: {timing['ratio']:.2f}", file=sys.stderr, flush=True)
    finally:
        ours.close()
        theirs.close()
    results["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print_table(results)
    if output is not None:
        output.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
