"""The data types of the registry: a layer spec, a test case, a bad input, a page, an entry."""

from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass
class Spec:
    """A class name and its constructor arguments (torch's names, so torch's twin takes the same).
    A container's spec holds the specs of its children instead of arguments."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    children: tuple = ()

    def __repr__(self):
        if self.children:
            return f"{self.name}({', '.join(map(repr, self.children))})"
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"


def S(name, *args, **kwargs):
    """Spec shorthand: S('Conv2d', 2, 3, 3, stride=2)."""
    return Spec(name, args, kwargs)


def Seq(*children):
    return Spec("Sequential", children=children)


def Res(*children):
    return Spec("Residual", children=children)


@dataclass
class Case:
    """A spec, a maker of its inputs (rng -> dict of named arrays, see the entry's convention)
    and a few options. Its id starts with the spec's repr, so it names the class."""

    spec: Spec
    inputs: Optional[Callable]  # rng -> {'x': ...} (or 'idx', 'query', ..., 'h0', 'target')
    mode: str = "train"  # or "eval": the layer is switched to eval() first
    dh_n: bool = False  # recurrent: also project h_n (and c_n for LSTM) into the objective
    fresh: bool = False  # rebuild the layer for every evaluation (Dropout: same seed, same mask)
    note: str = ""

    @property
    def name(self):
        return self.spec.name

    @property
    def entry(self):
        from . import REGISTRY  # the package imports this module first
        return REGISTRY[self.spec.name]

    @property
    def convention(self):
        """The adapter of the class's entry (Plain for a class not registered yet)."""
        from . import convention_of
        return convention_of(self.spec.name)

    @property
    def id(self):
        extra = [self.mode] if self.mode != "train" else []
        extra += ["dh_n"] if self.dh_n else []
        extra += [self.note] if self.note else []
        return repr(self.spec) + ("[" + ",".join(extra) + "]" if extra else "")


@dataclass
class Bad:
    """A bad forward call: `layer(*args)` with the layer of `spec` raises `exc`, and the message
    starts with the class name and contains every token (an int as a whole number, a tuple as its
    repr, a string literally)."""

    spec: Spec
    args: tuple
    exc: type
    tokens: list


@dataclass
class BadArguments:
    """A constructor call that raises ValueError naming the class and every token."""

    spec: Spec
    tokens: list


@dataclass
class Page:
    """A page of the site. `title` is a regex its <h1> must match; `layer_page` pages follow the
    fixed section order of a layer page (STYLE.md)."""

    docname: str
    title: str
    layer_page: bool = True


@dataclass
class Entry:
    """Everything the tests know about one public class of code/layers.py.

    A part that a class cannot have is given as an explicit reason (`no_cases`, `no_random`,
    `no_bad`): the meta-test (tests/test_registry.py) accepts a reason, never a silent gap.
    """

    name: str
    contract: str  # the constructor's argument list as ../shared/API.md states it
    convention: object  # how the class is called: an adapter of registry.conventions
    page: str  # the docname of the page that literalincludes the class (":pyobject: Name")
    cases: list = field(default_factory=list)  # fixed Cases: gradcheck, parity, dtype, copy, ...
    no_cases: str = ""
    random: Optional[Callable] = None  # rng -> Case, a randomised configuration with a torch twin
    no_random: str = ""
    bad: list = field(default_factory=list)  # Bad forward calls
    bad_arguments: list = field(default_factory=list)  # BadArguments constructor calls
    no_bad: str = ""
    torch_name: Optional[str] = "same"  # torch's class whose signature the contract follows; None: none
    no_twin: str = ""  # why there is no torch twin at all: fixed cases are not compared with torch
    random_init: bool = False  # the constructor takes `rng` (initial values or masks are random)
    init_weight: Optional[str] = None  # parameter whose fan-in sets torch's U(-k, k) initial range
    parity_cases: list = field(default_factory=list)  # extra Cases compared with torch only (ties ...)
    no_ties: bool = False  # finite differences need distinct inputs (max pooling): see test_gradcheck
    checks_dtype: Optional[bool] = None  # integer input is a TypeError; None: the convention's default
    extreme: list = field(default_factory=list)  # specs run at |x| up to 1e4 (test_stability)
    extreme_pairs: list = field(default_factory=list)  # (x, target) at |x| up to 1e4, for losses
    exercise: Optional[Callable] = None  # cls -> list of arrays, for test_copy when there are no cases

    def __post_init__(self):
        if self.torch_name == "same":
            self.torch_name = None if self.no_twin else self.name
        if self.no_twin and not self.no_random:
            self.no_random = self.no_twin

    @property
    def rejects_integer_input(self):
        if self.checks_dtype is not None:
            return self.checks_dtype
        return self.convention.rejects_integer_input
