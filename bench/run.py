"""Benchmark every layer of code/layers.py against the same torch.nn layer.

Forward plus backward, float32, the same weights on both sides, one thread each, the two
interleaved run by run so that a change in the machine's load hits both alike. For every
case it reports the median time of each side and the ratio ours/PyTorch (the median of the
ratios of the interleaved pairs), checks the two against each other, writes everything with
the machine, the versions and the date to bench/results.json and prints a table.

    make bench                                    # every case -> bench/results.json
    .venv/bin/python bench/run.py --quick         # a short smoke run (writes nothing)
    .venv/bin/python bench/run.py --cases linear,lstm --output /tmp/r.json
"""

import os
import sys

# BLAS reads its thread count once, when numpy is first imported: set the variables before
# that, and start again if something imported numpy earlier with other values.
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
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "code"))
import layers as L  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

F32 = np.float32
TARGETS = {"linear": 1.2, "convolution": 2.5, "pooling": 2.0, "normalisation": 2.0,
           "elementwise": 2.0, "recurrent": 2.0, "training": 2.0}


# --------------------------------------------------------------------------------------
# Cases: each builds a pair of closures that run one forward + backward
# --------------------------------------------------------------------------------------


class Case:
    def __init__(self, key, name, group, ours, theirs, check, repeats=None):
        self.key, self.name, self.group = key, name, group
        self.ours, self.theirs, self.check = ours, theirs, check
        self.target = TARGETS[group]
        self.repeats = repeats  # None: the command line's


def rel_err(a, b):
    """Largest absolute difference relative to the largest magnitude of the reference."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def layer_case(key, name, group, layer, module, x, *, recurrent=False, indices=False, compare=True):
    """A case for one layer: ``layer`` (ours) and ``module`` (torch) get the same weights."""
    rng = np.random.default_rng(1)
    with torch.no_grad():  # the same weights: ours, copied into torch's parameters
        for pname, p in layer.params.items():
            getattr(module, pname).copy_(torch.from_numpy(np.asarray(p, dtype=F32)))
    xt = torch.from_numpy(x.copy())
    if not indices:
        xt.requires_grad_(True)
    first = lambda out: out[0] if recurrent else out  # recurrent layers return (output, state)
    dy = rng.standard_normal(first(layer.forward(x)).shape).astype(F32)
    dyt = torch.from_numpy(dy.copy())
    params = list(module.parameters())

    def ours():
        y = first(layer.forward(x))
        return y, layer.backward(dy)

    def theirs():
        xt.grad = None
        for p in params:  # ours overwrites its gradients: let torch start afresh too
            p.grad = None
        y = first(module(xt))
        y.backward(dyt)
        return y

    def check():
        if not compare:  # e.g. dropout: the two draw different masks
            y, dx = ours()
            return {"dropped": float(np.mean(y == 0))}
        y, dx = ours()
        yt = theirs()
        errors = {"output": rel_err(y, yt.detach().numpy())}
        if not indices:
            errors["dx"] = rel_err(dx, xt.grad.numpy())
        for pname, p in module.named_parameters():
            errors[f"d{pname}"] = rel_err(layer.grads[pname], p.grad.numpy())
        return errors

    return Case(key, name, group, ours, theirs, check)


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(F32)


def layer_cases():
    nn = torch.nn
    yield layer_case("linear", "Linear 256×512→512", "linear",
                     L.Linear(512, 512, rng=0), nn.Linear(512, 512), randn(256, 512))
    yield layer_case("conv2d", "Conv2d N32 C16 32×32 k3→32 pad 1", "convolution",
                     L.Conv2d(16, 32, 3, padding=1, rng=0), nn.Conv2d(16, 32, 3, padding=1),
                     randn(32, 16, 32, 32))
    yield layer_case("conv2d-s2", "Conv2d N16 C32 16×16 k3→64 stride 2", "convolution",
                     L.Conv2d(32, 64, 3, stride=2, rng=0), nn.Conv2d(32, 64, 3, stride=2),
                     randn(16, 32, 16, 16))
    yield layer_case("conv1d", "Conv1d N64 C16 L200 k5→16", "convolution",
                     L.Conv1d(16, 16, 5, rng=0), nn.Conv1d(16, 16, 5), randn(64, 16, 200))
    x_img = randn(32, 32, 32, 32)
    yield layer_case("maxpool2d", "MaxPool2d 2 (N32 C32 32×32)", "pooling",
                     L.MaxPool2d(2), nn.MaxPool2d(2), x_img)
    yield layer_case("maxpool2d-3s2p1", "MaxPool2d 3 stride 2 pad 1", "pooling",
                     L.MaxPool2d(3, 2, 1), nn.MaxPool2d(3, 2, 1), x_img)
    yield layer_case("avgpool2d", "AvgPool2d 2 (N32 C32 32×32)", "pooling",
                     L.AvgPool2d(2), nn.AvgPool2d(2), x_img)
    yield layer_case("maxpool1d", "MaxPool1d 4 (N64 C16 L200)", "pooling",
                     L.MaxPool1d(4), nn.MaxPool1d(4), randn(64, 16, 200))
    yield layer_case("batchnorm1d", "BatchNorm1d N256×512", "normalisation",
                     L.BatchNorm1d(512), nn.BatchNorm1d(512), randn(256, 512))
    yield layer_case("batchnorm2d", "BatchNorm2d N32 C32 32×32", "normalisation",
                     L.BatchNorm2d(32), nn.BatchNorm2d(32), x_img)
    yield layer_case("layernorm", "LayerNorm N256×512", "normalisation",
                     L.LayerNorm(512), nn.LayerNorm(512), randn(256, 512))
    x_wide = randn(256, 4096)
    yield layer_case("dropout", "Dropout 0.5 on 256×4096", "elementwise",
                     L.Dropout(0.5, rng=0), nn.Dropout(0.5), x_wide, compare=False)
    yield layer_case("relu", "ReLU on 256×4096", "elementwise", L.ReLU(), nn.ReLU(), x_wide)
    yield layer_case("gelu", "GELU on 256×4096", "elementwise", L.GELU(), nn.GELU(), x_wide)
    yield layer_case("softmax", "Softmax on 256×4096", "elementwise",
                     L.Softmax(dim=1), nn.Softmax(dim=1), x_wide)
    tokens = np.random.default_rng(0).integers(0, 21, (256, 200))
    yield layer_case("embedding", "Embedding 21×16 on 256×200", "elementwise",
                     L.Embedding(21, 16, padding_idx=0, rng=0), nn.Embedding(21, 16, padding_idx=0),
                     tokens, indices=True)
    x_seq = randn(50, 32, 64)
    for key, ours, theirs in [("rnn", L.RNN, nn.RNN), ("lstm", L.LSTM, nn.LSTM), ("gru", L.GRU, nn.GRU)]:
        yield layer_case(key, f"{ours.__name__} T50 N32 64→128", "recurrent",
                         ours(64, 128, rng=0), theirs(64, 128), x_seq, recurrent=True)


# --------------------------------------------------------------------------------------
# One epoch of the solubility model (the model of issue 4), numpy vs torch
# --------------------------------------------------------------------------------------


class _ToChannels:
    """(N, L, C) -> (N, C, L): an Embedding's output as a Conv1d's input."""

    def __init__(self):
        self.params, self.grads, self.training = {}, {}, True

    def forward(self, x):
        return x.transpose(0, 2, 1)

    def backward(self, dy):
        return dy.transpose(0, 2, 1)

    def train(self):
        return self

    def eval(self):
        return self


def solubility_models():
    """Our solubility model and a torch twin with the same weights."""
    try:  # the examples' own builder, when it exists
        from solubility import build_model
        ours = build_model(rng=0)
    except ImportError:
        ours = L.Sequential(
            L.Embedding(21, 16, padding_idx=0, rng=0), _ToChannels(),
            L.Conv1d(16, 16, 5, rng=1), L.ReLU(), L.MaxPool1d(4),
            L.Conv1d(16, 16, 3, rng=2), L.ReLU(), L.MaxPool1d(2),
            L.Conv1d(16, 16, 3, rng=3), L.ReLU(), L.MaxPool1d(2),
            L.Flatten(), L.Linear(160, 256, rng=4), L.ReLU(),
            L.Linear(256, 64, rng=5), L.ReLU(), L.Linear(64, 1, rng=6))
    nn = torch.nn

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
    state = {k: torch.from_numpy(np.asarray(v, dtype=F32).copy()) for k, v in ours.params.items()}
    twin.load_state_dict(state)
    assert sum(p.size for p in ours.params.values()) == 60929, "not the model of issue 4"
    return ours, twin


def solubility_case(quick):
    # the training split of the data set: 18,453 sequences less 10 % test and 10 % validation
    n_train = 18453 - 2 * 1845 if not quick else 16 * 20
    batch = 16
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 21, (n_train, 200))
    labels = rng.integers(0, 2, (n_train, 1)).astype(F32)
    order = rng.permutation(n_train)
    batches = [order[i:i + batch] for i in range(0, n_train, batch)]
    tokens_t, labels_t = torch.from_numpy(tokens), torch.from_numpy(labels)
    batches_t = [torch.from_numpy(b) for b in batches]
    state = {}

    def fresh():  # every epoch from the same weights, so that both sides do the same work
        state["ours"], state["torch"] = solubility_models()
        state["loss"], state["opt"] = L.BCEWithLogitsLoss(), L.Adam(state["ours"], lr=1e-3)
        state["t_loss"] = torch.nn.BCEWithLogitsLoss()
        state["t_opt"] = torch.optim.Adam(state["torch"].parameters(), lr=1e-3)

    def ours(batches=batches):
        model, loss, opt = state["ours"], state["loss"], state["opt"]
        total = 0.0
        for b in batches:
            total += loss.forward(model.forward(tokens[b]), labels[b])
            model.backward(loss.backward())
            opt.step()
        return total / len(batches)

    def theirs(batches=batches_t):
        model, loss, opt = state["torch"], state["t_loss"], state["t_opt"]
        total = 0.0
        for b in batches:
            opt.zero_grad(set_to_none=True)
            value = loss(model(tokens_t[b]), labels_t[b])
            value.backward()
            opt.step()
            total += value.item()
        return total / len(batches)

    def check():
        # ten steps from the same weights: over a whole epoch on random labels the float32
        # rounding differences grow (Adam divides by the root of tiny second moments)
        fresh()
        a, b = ours(batches[:10]), theirs(batches_t[:10])
        errors = {"mean loss": abs(a - b) / abs(b)}
        named = dict(state["torch"].named_parameters())
        errors["weights after 10 steps"] = max(rel_err(p, named[k].detach().numpy())
                                               for k, p in state["ours"].params.items())
        return errors

    fresh()
    label = f"Solubility model: 1 epoch, {n_train:,} seqs, batch 16, Adam"
    case = Case("solubility-epoch", label, "training", ours, theirs, check, repeats=3 if quick else 5)
    case.fresh = fresh
    return case


def all_cases(quick):
    yield from layer_cases()
    yield solubility_case(quick)


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


def run_once(f, number):
    """Seconds per call: (CPU time of this process, wall-clock time)."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(number):
        f()
    return (time.process_time() - cpu) / number, (time.perf_counter() - wall) / number


def time_case(case, repeats, min_run):
    """Median seconds per call of each side and the median of the paired ratios.

    Each run calls a side ``number`` times (enough for ``min_run`` seconds); the sides take
    turns, and which goes first alternates, so a slow patch of the machine hits both. The
    clock is the CPU time of this process (both sides run on one thread): on a machine
    shared with other jobs, wall-clock time also counts the time spent waiting for a core.
    Wall-clock medians are recorded too."""
    sides = [case.ours, case.theirs]
    numbers = []
    for f in sides:  # warm up (caches, allocator) and calibrate
        f()
        numbers.append(max(1, math.ceil(min_run / max(run_once(f, 1)[0], 1e-9))))
    repeats = case.repeats or repeats
    cpu, wall = ([], []), ([], [])
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit: a collection in the middle of a run is noise
    try:
        for r in range(repeats):
            for side in ((0, 1) if r % 2 == 0 else (1, 0)):
                c, w = run_once(sides[side], numbers[side])
                cpu[side].append(c)
                wall[side].append(w)
    finally:
        if gc_was_enabled:
            gc.enable()
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


# --------------------------------------------------------------------------------------
# Machine, versions, output
# --------------------------------------------------------------------------------------


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = " ".join(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # the layout of show_config is not a stable API
        blas = "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "torch": torch.__version__,
        "threads": {"torch": torch.get_num_threads(), **{v: os.environ[v] for v in THREAD_VARIABLES}},
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
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 21)
    min_run = args.min_run or (0.005 if args.quick else 0.05)
    output = args.output or (None if args.quick else ROOT / "bench" / "results.json")

    cases = list(all_cases(args.quick))
    if args.list:
        for case in cases:
            print(f"{case.key:<20}{case.name}")
        return 0
    if args.cases:
        wanted = args.cases.split(",")
        unknown = set(wanted) - {c.key for c in cases}
        if unknown:
            parser.error(f"unknown case(s) {sorted(unknown)}; --list shows the keys")
        cases = [c for c in cases if c.key in wanted]

    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), "quick": args.quick,
               "settings": {"repeats": repeats, "min_run_seconds": min_run, "dtype": "float32"},
               "cases": []}
    for case in cases:
        errors = case.check()  # also warms both sides up
        if hasattr(case, "fresh"):
            case.fresh()
        timing = time_case(case, repeats, min_run)
        results["cases"].append({"key": case.key, "name": case.name, "group": case.group,
                                 "target": case.target, **timing,
                                 "met": timing["ratio"] <= case.target, "check": errors})
        print(f"  {case.name}: {timing['ratio']:.2f}", file=sys.stderr, flush=True)
    results["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print_table(results)
    if output is not None:
        output.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
