"""Early stopping (Keras' EarlyStopping semantics), weight penalty in a training step,
Sequential and Residual behaviour."""

import numpy as np
import pytest

import helpers as h
import layers


def keras_reference(values, patience, min_delta):
    """Keras' EarlyStopping.on_epoch_end for mode='min' (keras/src/callbacks/early_stopping.py):
    wait += 1; an improvement (value < best - min_delta) resets wait; stop once wait >= patience."""
    best, wait, stops, best_epoch = np.inf, 0, [], None
    for epoch, value in enumerate(values):
        wait += 1
        if value + abs(min_delta) < best:  # keras: monitor_op(current - min_delta, best), min_delta negated for min
            best, best_epoch, wait = value, epoch, 0
            stops.append(False)
            continue
        stops.append(wait >= patience and epoch > 0)
    return stops, best, best_epoch


SEQUENCES = [
    [1.0, 0.9, 0.8, 0.85, 0.84, 0.83, 0.7, 0.71, 0.72, 0.73, 0.74],
    [1.0, 1.0, 1.0, 1.0, 1.0],
    [5.0, 4.0, 3.0, 2.0, 1.0],
    [1.0, 0.95, 0.91, 0.905, 0.9, 0.8, 0.8, 0.79],
    [0.5, 0.6, 0.4, 0.45, 0.39, 0.5, 0.6, 0.7],
]


@pytest.mark.parametrize("values", SEQUENCES)
@pytest.mark.parametrize("patience", [0, 1, 2, 3])
@pytest.mark.parametrize("min_delta", [0.0, 0.02])
def test_early_stopping_follows_keras(values, patience, min_delta):
    expected, best, best_epoch = keras_reference(values, patience, min_delta)
    stopper = layers.EarlyStopping(patience=patience, min_delta=min_delta)
    model = layers.Linear(2, 1, rng=0)
    got = []
    for v in values:
        got.append(stopper.step(v, model))
        if got[-1]:
            break
    first_stop = expected.index(True) + 1 if True in expected else len(values)
    assert got == expected[:first_stop]
    _, best, best_epoch = keras_reference(values[:first_stop], patience, min_delta)
    assert stopper.best == best
    assert stopper.best_epoch == best_epoch


def _train_step(model, rng):
    x = rng.standard_normal((4, 3))
    model.backward(np.ones_like(model(x)))
    for p in model.params.values():
        p += rng.standard_normal(p.shape)  # in place, as an optimiser does


@pytest.mark.parametrize("restore_best_weights", [False, True])
def test_early_stopping_keeps_and_restores_the_best_parameters(restore_best_weights):
    rng = np.random.default_rng(0)
    model = layers.Sequential(layers.Linear(3, 4, rng=0), layers.Tanh(), layers.Linear(4, 1, rng=1))
    arrays = model.params
    stopper = layers.EarlyStopping(patience=2, restore_best_weights=restore_best_weights)
    snapshots, stopped = [], False
    for value in [3.0, 2.0, 1.0, 1.5, 1.2]:
        snapshots.append({k: v.copy() for k, v in model.params.items()})
        stopped = stopper.step(value, model)
        if stopped:
            break
        _train_step(model, rng)
    assert stopped and stopper.best == 1.0 and stopper.best_epoch == 2
    best = snapshots[2]
    current = {k: v.copy() for k, v in model.params.items()}
    if restore_best_weights:
        for k in best:
            np.testing.assert_array_equal(model.params[k], best[k])
    else:
        assert any(not np.array_equal(current[k], best[k]) for k in best)
    model.params["0.weight"][...] = 0.0  # the kept copy is a copy, not a view of the live arrays
    stopper.restore(model)
    for k in best:
        np.testing.assert_array_equal(model.params[k], best[k])
        assert model.params[k] is arrays[k], "restore must copy in place into the layers' arrays"


def test_weight_penalty_in_a_training_step():
    """loss = data loss + penalty; backward adds the penalty's gradient before the step."""
    rng = np.random.default_rng(1)
    model = h.build_ours(h.Seq(h.S("Linear", 3, 4), h.S("Tanh"), h.S("Linear", 4, 2)), rng)
    dense = model.layers[0], model.layers[2]
    penalty = layers.WeightPenalty(dense, l1=0.01, l2=0.1)
    mse = layers.MSELoss()
    x, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))

    def total():
        return mse(model(x), t) + penalty.loss()

    total()
    model.backward(mse.backward())
    penalty.backward()
    for key in ("0.weight", "2.weight", "0.bias"):
        numeric = h.numeric_gradient(total, model.params[key])
        h.assert_gradient(model.grads[key], numeric, key)


def test_residual_adds_the_identity():
    rng = np.random.default_rng(2)
    inner = [layers.Linear(3, 3, rng=0), layers.Tanh()]
    block = layers.Residual(*inner)
    x = rng.standard_normal((4, 3))
    fx = inner[1](inner[0](x))
    np.testing.assert_allclose(block(x), x + fx, rtol=1e-15)
    assert list(block.params) == ["0.weight", "0.bias"]
