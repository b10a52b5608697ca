"""The copy test under numpy 1.26: every class of code/layers.py, copied alone, runs on numpy 1.26
and gives the results it gives on the pinned numpy 2.x.

`make test` runs it in two steps (see the Makefile's `copy-np126` target):

1. ``record OUT`` runs in the main environment (numpy 2.x, torch). It uses the copy test's own
   usage of every class (``test_copy.exercise``) with a recording subclass: the object's state
   before its first call, every call (``forward``, ``backward``, ``step``, ...) with its arguments,
   every result and the object's state after the last call are pickled to OUT.
2. ``replay OUT`` runs in ``_build/venv-np126`` (numpy 1.26.4 and scipy, no torch, no test helpers).
   It executes the source of each class alone, in a namespace that holds only ``np`` (as a reader
   who copies it from a page), unpickles the recorded state into instances of those copied
   classes, repeats the calls and compares every result and the final state with the record.

A class that uses an API numpy 1.26 lacks (``np.vecdot``, say) fails the replay with the error
it raises; a class whose numbers differ between the two numpy versions fails the comparison.
"""

import ast
import copy
import pickle
import sys
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ("forward", "backward", "__call__", "step", "loss", "restore")
# The two numpy versions (and two machines' CPUs) may round a few operations differently. The
# tolerance is relative to the largest entry of each array: an entry that is zero in exact
# arithmetic (the key-bias gradient of attention) comes out as rounding noise near 1e-17, whose
# relative difference between two runs means nothing.
RTOL = 1e-9


# -- portable pickles: numpy's Generator does not unpickle across major versions -------------


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, np.random.Generator):
            return ("Generator", type(obj.bit_generator).__name__, obj.bit_generator.state)
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        _, name, state = pid
        bit_generator = getattr(np.random, name)()
        bit_generator.state = state
        return np.random.Generator(bit_generator)


# -- step 1: record (main environment) ------------------------------------------------------


def _recording(cls, log):
    """A subclass of cls that logs the calls made on it from outside (not nested ones)."""
    depth = [0]

    def wrap(method):
        def wrapper(self, *args, **kwargs):
            if depth[0]:
                return getattr(cls, method)(self, *args, **kwargs)
            if not log["calls"]:
                log["initial"] = _plain(self, cls)
            log["calls"].append((method, copy.deepcopy(args), copy.deepcopy(kwargs)))
            depth[0] += 1
            try:
                result = getattr(cls, method)(self, *args, **kwargs)
            finally:
                depth[0] -= 1
            log["results"].append(copy.deepcopy(result))
            log["final"] = _plain(self, cls)
            return result
        return wrapper

    methods = {m: wrap(m) for m in RECORDED if hasattr(cls, m)}
    return type(cls.__name__, (cls,), methods)


def _plain(obj, cls):
    """A deep copy of obj as an instance of cls itself (so that it pickles as layers.<Name>)."""
    snapshot = copy.deepcopy(obj)
    snapshot.__class__ = cls
    return snapshot


def record(out):
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "code")]
    import layers
    import test_copy

    records = {}
    for name in test_copy.CLASSES:
        log = {"calls": [], "results": []}
        try:
            test_copy.exercise(name, _recording(getattr(layers, name), log))
        except BaseException as error:  # pytest.fail for a class the copy test has no usage for
            records[name] = {"error": f"{type(error).__name__}: {error}"}
            continue
        records[name] = log if log["calls"] else {"error": "the copy test made no call on it"}
    with open(out, "wb") as f:
        _Pickler(f).dump(records)
    print(f"recorded {len(records)} classes with numpy {np.__version__} into {out}")


# -- step 2: replay (numpy 1.26) ------------------------------------------------------------


def copied_classes(path):
    """Each top-level class of path, executed alone with only `np` in its namespace."""
    text = Path(path).read_text(encoding="utf-8")
    module = types.ModuleType("layers")
    for node in ast.parse(text).body:
        if isinstance(node, ast.ClassDef):
            source = "\n".join(text.split("\n")[node.lineno - 1: node.end_lineno])
            namespace = {"np": np}
            exec(compile(source, f"<copy of {node.name}>", "exec"), namespace)
            setattr(module, node.name, namespace[node.name])
    return module


def assert_same(actual, expected, where):
    if isinstance(expected, np.random.Generator):
        return
    if isinstance(expected, (np.ndarray, np.generic, float, int, complex, bool)) and not isinstance(expected, type):
        actual, expected = np.asarray(actual), np.asarray(expected)
        assert actual.shape == expected.shape, f"{where}: shape {actual.shape}, recorded {expected.shape}"
        assert actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype}, recorded {expected.dtype}"
        if expected.dtype.kind in "fc":
            finite = np.abs(expected[np.isfinite(expected)])
            scale = finite.max() if finite.size else 0.0
            np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale, equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, dict):
        assert sorted(map(str, actual)) == sorted(map(str, expected)), f"{where}: keys differ"
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{where}: length {len(actual)}, recorded {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{where}[{i}]")
    elif hasattr(expected, "__dict__") and not isinstance(expected, type):
        assert type(actual).__name__ == type(expected).__name__, f"{where}: {type(actual)} vs {type(expected)}"
        assert_same(vars(actual), vars(expected), where)
    else:
        assert actual == expected, f"{where}: {actual!r}, recorded {expected!r}"


def replay(recorded, layers_path):
    sys.modules["layers"] = copied = copied_classes(layers_path)  # what the pickles name
    with open(recorded, "rb") as f:
        records = _Unpickler(f).load()
    failures = []
    for name, log in records.items():
        try:
            if "error" in log:
                raise AssertionError(f"not recorded: {log['error']}")
            obj = log["initial"]
            assert type(obj) is getattr(copied, name)
            with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                for i, ((method, args, kwargs), expected) in enumerate(zip(log["calls"], log["results"])):
                    assert_same(getattr(obj, method)(*args, **kwargs), expected, f"{name}.{method} (call {i})")
            assert_same(obj, log["final"], f"{name} (state after the calls)")
        except Exception as error:
            failures.append(name)
            print(f"FAILED {name}: {type(error).__name__}: {str(error).strip()[:400]}")
    print(f"numpy {np.__version__}: every class of {layers_path} copied alone and replayed")
    print(f"{len(records) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures or not records else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "record":
        record(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "replay":
        sys.exit(replay(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ROOT / "code" / "layers.py"))
    else:
        sys.exit(f"usage: {sys.argv[0]} record OUT | replay OUT [layers.py]")
