"""The protein-solubility model of the worked example, built only from ``layers.py``.

The model, data split and training protocol of the protein-solubility example in the
"Standard layers" chapter of *Deep Learning for Molecules and Materials* (A. D. White):
an embedding of the amino acids, three convolution + pooling stages, three dense layers,
binary cross-entropy on logits, Adam (learning rate 1e-3), batches of 16, 10 epochs.
Shared by the example page (``examples/solubility.md``) and the benchmark.

>>> model = build_model(rng=0)
>>> sum(p.size for p in model.params.values())
60929
"""

import os
import time

import numpy as np

from data import load_solubility
from layers import (Adam, BCEWithLogitsLoss, Conv1d, Dropout, EarlyStopping, Embedding, Flatten,
                    Linear, MaxPool1d, ReLU, Sequential, WeightPenalty)

class Transpose:
    """Swaps the last two axes: ``(N, L, C) -> (N, C, L)``.

    ``Embedding`` puts the features last, ``(N, L, C)`` as Keras does; ``Conv1d`` wants them
    first, ``(N, C, L)`` as torch does. Backward swaps the gradient back. No parameters.

    >>> import numpy as np
    >>> Transpose().forward(np.zeros((2, 200, 16))).shape
    (2, 16, 200)
    """

    def __init__(self):
        self.params, self.grads = {}, {}
        self.training = True

    def forward(self, x):
        return np.swapaxes(x, 1, 2)  # (N, L, C) -> (N, C, L), a view

    def backward(self, dy):
        return np.swapaxes(dy, 1, 2)  # (N, C, L) -> (N, L, C)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward


def build_model(dropout=0.0, rng=None):
    """The chapter's model; with ``dropout > 0``, a ``Dropout`` after Flatten, after 256 and after 64.

    Every random choice (initial weights, dropout masks) comes from ``rng`` (a seed or a
    ``numpy.random.Generator``).
    """
    rng = np.random.default_rng(rng)

    def drop():  # nothing for the plain model
        return [Dropout(dropout, rng=rng)] if dropout > 0 else []

    return Sequential(
        Embedding(21, 16, padding_idx=0, rng=rng),  # (N, 200) tokens -> (N, 200, 16)
        Transpose(),                                # -> (N, 16, 200)
        Conv1d(16, 16, 5, rng=rng), ReLU(),         # -> (N, 16, 196)
        MaxPool1d(4),                               # -> (N, 16, 49)
        Conv1d(16, 16, 3, rng=rng), ReLU(),         # -> (N, 16, 47)
        MaxPool1d(2),                               # -> (N, 16, 23)
        Conv1d(16, 16, 3, rng=rng), ReLU(),         # -> (N, 16, 21)
        MaxPool1d(2),                               # -> (N, 16, 10)
        Flatten(),                                  # -> (N, 160)
        *drop(),
        Linear(160, 256, rng=rng), ReLU(),
        *drop(),
        Linear(256, 64, rng=rng), ReLU(),
        *drop(),
        Linear(64, 1, rng=rng),                     # -> (N, 1): one logit, soluble or not
    )


def dense_layers(model):
    """The ``Linear`` layers of a model: the kernels that the L2 penalty acts on."""
    return [layer for layer in model.layers if isinstance(layer, Linear)]


def load_split(seed=0):
    """The chapter's split: shuffle all sequences, first 10 % test, next 10 % validation, rest training.

    Returns a dict ``{"train": (x, y), "val": (x, y), "test": (x, y)}`` with ``x`` integer
    tokens ``(n, 200)`` and ``y`` labels ``(n, 1)`` as float32 (1 soluble, 0 insoluble).
    """
    positives, negatives = load_solubility()
    x = np.concatenate([positives, negatives])
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))]).astype(np.float32)[:, None]
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n = int(0.1 * len(x))
    return {"test": (x[:n], y[:n]), "val": (x[n:2 * n], y[n:2 * n]), "train": (x[2 * n:], y[2 * n:])}


def evaluate(model, x, y, batch_size=1024):
    """Mean binary cross-entropy and accuracy of ``model`` on ``(x, y)``, in evaluation mode."""
    was_training = model.training
    model.eval()
    loss_fn = BCEWithLogitsLoss()
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        logits = model.forward(x[start:start + batch_size])
        target = y[start:start + batch_size]
        total_loss += loss_fn.forward(logits, target) * len(target)
        correct += int(((logits > 0) == (target > 0.5)).sum())
    if was_training:
        model.train()
    return total_loss / len(x), correct / len(x)


def train(model, data, *, epochs=10, batch_size=16, lr=1e-3, l2=0.0, early_stopping=None,
          seed=0, log=print):
    """Train with Adam on binary cross-entropy; return the history of every epoch.

    ``data`` is ``load_split``'s dict. ``l2 > 0`` adds ``l2 * sum(W^2)`` over the dense kernels
    to the loss (Keras' ``kernel_regularizer=L2(l2)``). ``early_stopping`` (an
    ``EarlyStopping``) watches the validation loss; once it says stop, training continues
    but the stopper is no longer fed, so one run gives both the full curve and the
    early-stopped model (the stopper keeps its best parameters). Batches are drawn from a
    fresh shuffle of the training set each epoch, from ``seed``.

    The history holds, per epoch: ``loss`` (training loss averaged over the epoch's batches,
    penalty included, as Keras reports it), ``bce`` (its cross-entropy part), ``accuracy``
    (on the training batches, in training mode), ``val_loss`` and ``val_accuracy`` (after the
    epoch, in evaluation mode, cross-entropy only), ``seconds`` and ``cpu_seconds`` (wall and
    CPU time of the epoch's training steps); and ``stopped_epoch`` (1-based, None if the stopper never fired).
    """
    x_train, y_train = data["train"]
    x_val, y_val = data["val"]
    rng = np.random.default_rng(seed)  # the order of the batches
    loss_fn = BCEWithLogitsLoss()
    optimizer = Adam(model, lr=lr)
    penalty = WeightPenalty(dense_layers(model), l2=l2) if l2 else None
    keys = ("loss", "bce", "accuracy", "val_loss", "val_accuracy", "seconds", "cpu_seconds")
    history = {key: [] for key in keys}
    history["stopped_epoch"] = None
    model.train()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        start_time, start_cpu = time.perf_counter(), time.process_time()
        bce_sum = penalty_sum = 0.0
        correct = 0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            xb, yb = x_train[batch], y_train[batch]
            logits = model.forward(xb)
            bce = loss_fn.forward(logits, yb)
            model.backward(loss_fn.backward())
            if penalty is not None:
                penalty_sum += penalty.loss() * len(batch)  # the penalty before this step's update
                penalty.backward()
            optimizer.step()
            bce_sum += bce * len(batch)
            correct += int(((logits > 0) == (yb > 0.5)).sum())
        seconds = time.perf_counter() - start_time
        cpu_seconds = time.process_time() - start_cpu
        val_loss, val_accuracy = evaluate(model, x_val, y_val)
        n = len(order)
        history["bce"].append(bce_sum / n)
        history["loss"].append((bce_sum + penalty_sum) / n)
        history["accuracy"].append(correct / n)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        history["seconds"].append(seconds)
        history["cpu_seconds"].append(cpu_seconds)
        if early_stopping is not None and history["stopped_epoch"] is None:
            if early_stopping.step(val_loss, model):
                history["stopped_epoch"] = epoch
        if log:
            log(f"epoch {epoch:2d}: loss {history['loss'][-1]:.4f}, accuracy {correct / n:.4f}, "
                f"val_loss {val_loss:.4f}, val_accuracy {val_accuracy:.4f} ({seconds:.1f} s)")
    return history


def run(name, *, dropout=0.0, l2=0.0, patience=None, seed=0, epochs=10):
    """Build, train and test one variant of the model; a picklable summary of the run.

    With ``patience`` set, an ``EarlyStopping(patience)`` watches the validation loss of the
    run; it must not restore while the run goes on, so the best parameters it kept are restored
    at the end (as Keras' ``restore_best_weights=True``) and tested as the early-stopped model.
    Used by the example page, which runs the variants side by side in worker processes.
    """
    data = load_split(seed)
    model = build_model(dropout=dropout, rng=seed)
    stopper = EarlyStopping(patience=patience) if patience is not None else None
    lines = []
    start = time.perf_counter()
    history = train(model, data, epochs=epochs, l2=l2, early_stopping=stopper, seed=seed, log=lines.append)
    wall = time.perf_counter() - start
    x_test, y_test = data["test"]
    result = {"name": name, "history": history, "log": lines, "wall_seconds": wall,
              "test_loss_accuracy": evaluate(model, x_test, y_test),
              "test_predictions_positive": float((_logits(model, x_test) > 0).mean())}
    if stopper is not None:
        stopper.restore(model)  # the best parameters seen before the stopper fired
        result["best_epoch"] = stopper.best_epoch + 1  # 1-based, like the epochs in the log
        result["test_loss_accuracy_early_stopping"] = evaluate(model, x_test, y_test)
        result["test_predictions_positive_early_stopping"] = float((_logits(model, x_test) > 0).mean())
    return result


def run_variants(variants, processes=None):
    """Run ``run(name, **options)`` for each ``(name, options)`` in worker processes, side by side.

    The variants are independent and each is seeded, so running them at the same time changes
    no number, only the wall time. Each worker uses one BLAS thread (set before numpy starts in
    the worker), so that the results do not depend on the machine's thread count.
    Returns ``{name: result}`` in the order given.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    variants = list(variants)
    threads = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    saved = {name: os.environ.get(name) for name in threads}
    os.environ.update(threads)  # inherited by the workers, which start a fresh interpreter
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes or len(variants), mp_context=context) as pool:
            futures = [pool.submit(run, name, **options) for name, options in variants]
            return {name: future.result() for (name, _), future in zip(variants, futures)}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _logits(model, x, batch_size=1024):
    model.eval()
    return np.concatenate([model.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
