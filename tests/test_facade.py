"""``KANFacade``: KAN's pykan-style methods, each forwarding to the function its docs name."""

import importlib
import re

import pytest
import torch

import kanlab.nn.facade as facade
from kanlab import KAN
from kanlab.nn.facade import KANFacade

D = torch.float64

# method -> (module, function) it forwards to: the list in the facade's module docstring
FORWARDS = {
    "importance": ("kanlab.interpret.importance", "importance"),
    "attribute": ("kanlab.interpret.importance", "attribute"),
    "prune": ("kanlab.interpret.prune", "prune"),
    "prune_nodes": ("kanlab.interpret.prune", "prune_nodes"),
    "prune_edges": ("kanlab.interpret.prune", "prune_edges"),
    "prune_inputs": ("kanlab.interpret.prune", "prune_inputs"),
    "fix_symbolic": ("kanlab.interpret.symbolic_model", "fix_symbolic"),
    "unfix_symbolic": ("kanlab.interpret.symbolic_model", "unfix_symbolic"),
    "suggest_symbolic": ("kanlab.interpret.symbolic_model", "suggest_symbolic"),
    "auto_symbolic": ("kanlab.interpret.symbolic_model", "auto_symbolic"),
    "symbolic_formula": ("kanlab.nn.facade", "symbolic_formula"),  # imported at the top
    "plot": ("kanlab.interpret.plot", "plot_network"),
    "fit": ("kanlab.training.loop", "fit"),
}


def _public_methods(cls):
    return {name for name, v in vars(cls).items() if callable(v) and not name.startswith("_")}


def test_kan_is_a_facade_and_the_docstring_lists_every_method():
    assert issubclass(KAN, KANFacade)
    assert _public_methods(KANFacade) == set(FORWARDS)
    rows = dict(re.findall(r"^- ``(\w+)``: :func:`([\w.]+)`", facade.__doc__, re.M))
    targets = {m: f"{mod}.{fn}" for m, (mod, fn) in FORWARDS.items()}
    targets["symbolic_formula"] = "kanlab.symbolic.formula.symbolic_formula"
    assert rows == targets
    for name, target in targets.items():  # each method's docstring names its target too
        assert target.rsplit(".", 1)[1] in getattr(KANFacade, name).__doc__, name


def _call(model, name, x):
    if name in ("fix_symbolic", "unfix_symbolic", "suggest_symbolic"):
        return getattr(model, name)(0, 1, 2, *(["sin"] if name == "fix_symbolic" else []),
                                    **({} if name == "unfix_symbolic" else {"x": x}))
    if name == "auto_symbolic":
        return model.auto_symbolic(x=x, lib=["x"])
    if name == "symbolic_formula":
        return model.symbolic_formula(["a", "b"], precision=3)
    if name == "fit":
        return model.fit("data", steps=3)
    if name == "plot":
        return model.plot(x, path="p.png")
    if name == "attribute":
        return model.attribute(1, 2, x)
    return getattr(model, name)(x)


@pytest.mark.parametrize("name", sorted(FORWARDS))
def test_each_method_forwards_its_arguments_unchanged(name, monkeypatch):
    module, function = FORWARDS[name]
    calls = []
    monkeypatch.setattr(importlib.import_module(module), function,
                        lambda *args, **kw: calls.append((args, kw)) or "result")
    model = KAN([2, 3, 1], seed=0, dtype=D)
    x = torch.rand(8, 2, dtype=D)
    result = _call(model, name, x)
    ((args, kw),) = calls
    assert args[0] is model
    if name != "unfix_symbolic":
        assert result == "result"
    if name == "importance":  # the method checks the samples the function needs
        assert torch.equal(args[1], x) and args[2] == "attribution"
    elif name == "attribute":
        assert torch.equal(args[1], x) and args[2:] == (1, 2)
    elif name == "prune":
        assert args[1] is x and args[2:] == (1e-2, 3e-2) and kw == {"method": "attribution"}
    elif name in ("prune_nodes", "prune_edges", "prune_inputs"):
        assert args[1] is x and len(args) == 3
    elif name == "fix_symbolic":
        assert args[1:] == (0, 1, 2, "sin") and kw["x"] is x
    elif name == "auto_symbolic":
        assert kw["x"] is x and kw["lib"] == ["x"]
    elif name == "symbolic_formula":
        assert args[1] == ["a", "b"] and kw == {"precision": 3}
    elif name == "fit":
        assert args[1] == "data" and kw == {"steps": 3}
    elif name == "plot":
        assert args[1] is x and kw["path"] == "p.png" and kw["beta"] == 3.0


def test_importance_without_samples_uses_the_recorded_ones():
    from kanlab.interpret.importance import importance

    model = KAN([2, 3, 1], seed=0, dtype=D)
    x = torch.rand(16, 2, dtype=D)
    model.record(x)
    torch.testing.assert_close(model.importance().edges[0], importance(model, x).edges[0],
                               rtol=0, atol=0)
