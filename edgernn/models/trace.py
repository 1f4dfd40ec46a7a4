"""Read what a user's ``forward()`` computes with ``torch.fx``: the readout, the activation before the
head, and nothing edgernn cannot represent.

:func:`trace_forward` runs a symbolic trace and interprets its graph over a handful of abstract
values (the input, the recurrent output sequence, ``h_n`` and its rows, the many-to-one features,
the head's output). Every operation it does not recognize is refused with its name and the line
of ``forward`` it came from; ``docs/import.md`` lists what is recognized.
"""

from __future__ import annotations

import inspect
import operator
import re
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F  # noqa: N812 - PyTorch's own spelling
from torch import nn

from edgernn.errors import UnsupportedModelError
from edgernn.types import Activation, OutputMode, Readout

__all__ = ["Traced", "trace_forward"]


@dataclass(frozen=True)
class Traced:
    """What ``forward`` computes: many-to-one or per step, with which readout and activation."""

    output_mode: OutputMode
    readout: Readout
    head_activation: Activation
    modules: tuple[str, ...]  # qualified names of the modules forward calls, in call order


@dataclass(frozen=True)
class _V:
    """An abstract value of the traced graph."""

    kind: str  # input | size | zeros | seq | rnn | hc | hn | row | feat | head | other
    layers: int = 0  # recurrent layers applied so far (seq, rnn, hn, row)
    batch_first: bool = True
    directions: int = 1
    row: int = 0  # which row of h_n (row)
    readout: Readout = Readout.FINAL_STATE  # feat
    per_step: bool = False  # head: applied to every step
    activation: Activation = Activation.NONE
    last_rnn: bool = False  # seq/hn/row: comes from the last recurrent module


_PASSTHROUGH_MODULES = (nn.Dropout, nn.Identity)
_PASSTHROUGH_FUNCTIONS = {F.dropout, torch.dropout}
_PASSTHROUGH_METHODS = {"contiguous"}
_ACTIVATION_MODULES = {nn.ReLU: Activation.RELU, nn.Tanh: Activation.TANH}
_ACTIVATION_FUNCTIONS = {F.relu: Activation.RELU, torch.relu: Activation.RELU, torch.tanh: Activation.TANH}
_ACTIVATION_METHODS = {"relu": Activation.RELU, "tanh": Activation.TANH}
_INPUT_CASTS = {"long", "int", "float"}
_ZERO_STATE_METHODS = {"to", "detach", "requires_grad_", "float", "cuda", "cpu"}


class _Tracer(fx.Tracer):
    def __init__(self) -> None:
        super().__init__()
        self.record_stack_traces = True


def trace_forward(module: nn.Module, rnns: list[nn.RNNBase]) -> Traced:
    """Trace ``module.forward`` and map it onto edgernn's model semantics, or refuse."""
    params = list(inspect.signature(module.forward).parameters.values())
    concrete = {p.name: p.default for p in params[1:] if p.default is not inspect.Parameter.empty}
    try:
        graph = _Tracer().trace(module, concrete_args=concrete or None)
    except Exception as exc:  # noqa: BLE001 - any tracing failure becomes one edgernn error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModelError(
            f"cannot trace {type(module).__name__}.forward with torch.fx ({first})",
            "keep forward a straight line of layer calls (no branches on tensor values)",
        ) from None
    return _Interpreter(module, rnns).run(graph)


def _where(node: fx.Node) -> str:
    """``line N of file (`code`)`` from the node's recorded stack trace: its innermost frame."""
    trace = node.meta.get("stack_trace") or ""
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)\n\s*(.*)', trace)
    frames = [f for f in frames if "/torch/" not in f[0]]  # the user's code, not the tracer's
    if not frames:
        return "in forward"
    path, line, func, code = frames[-1]
    return f"at line {line} of {func}() in {path.rsplit('/', 1)[-1]} (`{code.strip()}`)"


def _op_name(node: fx.Node, module: nn.Module) -> str:
    if node.op == "call_module":
        return f"{type(module.get_submodule(str(node.target))).__name__} '{node.target}'"
    if node.op == "call_method":
        return f".{node.target}()"
    if node.op == "get_attr":
        return f"the attribute '{node.target}'"
    target = node.target
    name = getattr(target, "__name__", str(target))
    mod = getattr(target, "__module__", "") or ""
    prefix = "torch." if mod.startswith("torch") and not mod.startswith("torch.nn") else ""
    return f"{prefix}{name}" if name != "getitem" else "indexing"


class _Interpreter:
    def __init__(self, module: nn.Module, rnns: list[nn.RNNBase]) -> None:
        self.module = module
        self.rnns = rnns
        self.values: dict[fx.Node, Any] = {}
        self.called: list[str] = []
        self.node: fx.Node | None = None

    def refuse(self, what: str, fix: str = "see docs/import.md for the operations edgernn imports") -> None:
        assert self.node is not None
        raise UnsupportedModelError(
            f"{_op_name(self.node, self.module)} {_where(self.node)} in {type(self.module).__name__}.forward {what}",
            fix,
        )

    def run(self, graph: fx.Graph) -> Traced:
        placeholders = 0
        result: Any = None
        for node in graph.nodes:
            self.node = node
            if node.op == "placeholder":
                self.values[node] = _V("input" if placeholders == 0 else "other")
                placeholders += 1
            elif node.op == "output":
                result = self.output(self.value(node.args[0]))
            elif node.op == "get_attr":
                self.refuse("reads a parameter or buffer directly", "keep weights inside Embedding/RNN/Linear layers")
            else:
                args = [self.value(a) for a in node.args]
                kwargs = {k: self.value(v) for k, v in node.kwargs.items()}
                self.values[node] = getattr(self, f"do_{node.op}")(node, args, kwargs)
        return result

    def value(self, arg: Any) -> Any:
        if isinstance(arg, fx.Node):
            return self.values[arg]
        if isinstance(arg, (tuple, list)):
            return type(arg)(self.value(a) for a in arg)
        return arg

    # -- modules ---------------------------------------------------------------------------

    def do_call_module(self, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> _V:
        sub = self.module.get_submodule(str(node.target))
        self.called.append(str(node.target))
        x = args[0] if args else None
        if isinstance(sub, _PASSTHROUGH_MODULES):
            return self.passthrough(x)
        for cls, act in _ACTIVATION_MODULES.items():
            if isinstance(sub, cls):
                return self.activate(x, act)
        if isinstance(sub, nn.Embedding):
            if not (isinstance(x, _V) and x.kind == "input"):
                self.refuse("looks up something other than forward's input")
            return _V("seq")
        if isinstance(sub, nn.RNNBase):
            return self.rnn(sub, args[1:] + list(kwargs.values()), x)
        if isinstance(sub, nn.Linear):
            return self.linear(x)
        self.refuse("is not an operation edgernn can represent")
        raise AssertionError  # unreachable: refuse raises

    def rnn(self, sub: nn.RNNBase, rest: list[Any], x: Any) -> _V:
        index = next((i for i, r in enumerate(self.rnns) if r is sub), None)
        layers_before = sum(r.num_layers for r in self.rnns[: index or 0])
        if index is None or not isinstance(x, _V) or x.kind not in ("input", "seq") or x.layers != layers_before:
            self.refuse(
                "does not read the previous recurrent layer's full output sequence",
                "chain the recurrent layers directly: embedding -> rnn -> rnn ...",
            )
        assert isinstance(x, _V)
        if x.activation is not Activation.NONE:
            self.refuse("reads an activated sequence: edgernn has no activation between recurrent layers")
        for state in rest:
            if not _is_zero_state(state):
                self.refuse("is given an initial state", "leave it out (edgernn starts every sequence from zeros)")
        return _V(
            "rnn",
            layers=layers_before + sub.num_layers,
            batch_first=bool(sub.batch_first),
            directions=2 if sub.bidirectional else 1,
            last_rnn=index == len(self.rnns) - 1,
        )

    def linear(self, x: Any) -> _V:
        x = self.as_features(x)
        if isinstance(x, _V) and x.kind == "feat":
            return _V("head", activation=x.activation, readout=x.readout)
        if isinstance(x, _V) and x.kind == "seq" and x.last_rnn:
            return _V("head", per_step=True, activation=x.activation)
        self.refuse(
            "reads something other than the last recurrent layer's output or final state",
            "apply the Linear head to h_n, output[:, -1], output.mean(1) or output",
        )
        raise AssertionError

    # -- functions and methods --------------------------------------------------------------

    def do_call_function(self, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> Any:
        fn = node.target
        if fn is operator.getitem:
            return self.getitem(args[0], args[1])
        if fn in _PASSTHROUGH_FUNCTIONS:
            return self.passthrough(args[0])
        if fn in _ACTIVATION_FUNCTIONS:
            return self.activate(args[0], _ACTIVATION_FUNCTIONS[fn])
        if fn is torch.cat:
            return self.cat(args[0], kwargs.get("dim", args[1] if len(args) > 1 else 0))
        if fn is torch.mean:
            return self.mean(args[0], args[1:], kwargs)
        if fn is torch.squeeze:
            return self.squeeze(args[0], args[1:], kwargs)
        if fn is getattr and isinstance(args[0], _V) and args[0].kind == "input" and args[1] in ("device", "dtype"):
            return _V("size")
        if fn is torch.zeros and all(_is_size(a) for a in [*_flat(args), *kwargs.values()]):
            return _V("zeros")
        self.refuse("is not an operation edgernn can represent")

    def do_call_method(self, node: fx.Node, args: list[Any], kwargs: dict[str, Any]) -> Any:
        name, x = str(node.target), args[0]
        if name == "size" and isinstance(x, _V) and x.kind == "input":
            return _V("size")
        if name in _INPUT_CASTS and isinstance(x, _V) and x.kind == "input" and not args[1:] and not kwargs:
            return x  # x.long() of token ids, x.float() of features: what edgernn feeds anyway
        if name in _ZERO_STATE_METHODS and _is_zero_state(x):
            return x
        if name in _PASSTHROUGH_METHODS:
            return self.passthrough(x)
        if name in _ACTIVATION_METHODS:
            return self.activate(x, _ACTIVATION_METHODS[name])
        if name == "mean":
            return self.mean(x, args[1:], kwargs)
        if name == "squeeze":
            return self.squeeze(x, args[1:], kwargs)
        self.refuse("is not an operation edgernn can represent")

    def passthrough(self, x: Any) -> Any:
        if isinstance(x, _V) and x.kind in ("input", "seq", "feat", "row", "hn"):
            return x
        self.refuse("(dropout) is only recognized on the input, the recurrent output or the features")

    def as_features(self, x: Any) -> Any:
        """A row of h_n read as the many-to-one features (or refused)."""
        return self.row_features(x) if isinstance(x, _V) and x.kind == "row" and x.last_rnn else x

    def activate(self, x: Any, act: Activation) -> _V:
        x = self.as_features(x)
        if not (isinstance(x, _V) and x.kind in ("seq", "feat") and x.layers > 0 and x.last_rnn):
            self.refuse(
                "is only recognized between the last recurrent layer and the head",
                "return logits: apply softmax and the like outside forward",
            )
        assert isinstance(x, _V)
        if x.activation is not Activation.NONE:
            self.refuse("is a second activation: edgernn applies one between the recurrent stack and the head")
        return replace(x, activation=act)

    def getitem(self, x: Any, index: Any) -> Any:
        if isinstance(x, _V) and x.kind == "rnn" and index in (0, 1):
            if index == 0:
                return replace(x, kind="seq")
            lstm = isinstance(self.rnns[-1] if x.last_rnn else None, nn.LSTM)
            return replace(x, kind="hc" if lstm else "hn")
        if isinstance(x, _V) and x.kind == "hc" and index in (0, 1):
            return replace(x, kind="hn" if index == 0 else "cn")  # c_n: refused wherever it is used
        if isinstance(x, _V) and x.kind == "hn" and isinstance(index, tuple) and index:
            if isinstance(index[0], int) and all(i == slice(None) for i in index[1:]):
                index = index[0]  # h[-1, :, :] is h[-1]
        if isinstance(x, _V) and x.kind == "hn" and isinstance(index, int):
            rows = x.layers * x.directions
            if not -rows <= index < rows:
                self.refuse(f"indexes row {index} of h_n, which has {rows} rows")
            return replace(x, kind="row", row=index % rows)
        if isinstance(x, _V) and x.kind == "seq" and x.layers > 0:
            return self.last_step(x, index)
        self.refuse("is not an indexing edgernn can represent")

    def last_step(self, x: _V, index: Any) -> _V:
        full = slice(None)
        index = index if isinstance(index, tuple) else (index,)
        time_axis = 1 if x.batch_first else 0
        if len(index) > time_axis and all(i == full for i in index[:time_axis]):
            step = index[time_axis]
            rest = index[time_axis + 1 :]
            if step == -1 and all(i == full for i in rest):
                return replace(x, kind="feat", readout=Readout.LAST_OUTPUT)
        self.refuse(
            f"reads {_show_index(index)} of the recurrent output: only the last step (output[:, -1]) is a readout",
            "read output[:, -1], output.mean(1), h_n, or every step",
        )
        raise AssertionError

    def cat(self, parts: Any, dim: Any) -> _V:
        if (
            isinstance(parts, (tuple, list))
            and len(parts) == 2
            and all(isinstance(p, _V) and p.kind == "row" and p.last_rnn for p in parts)
            and dim in (1, -1)
        ):
            fw, bw = parts
            rows = fw.layers * fw.directions
            if fw.directions == 2 and (fw.row, bw.row) == (rows - 2, rows - 1):
                return replace(fw, kind="feat", readout=Readout.FINAL_STATE)
        self.refuse(
            "is only recognized as torch.cat((h_n[-2], h_n[-1]), dim=1) of a bidirectional RNN's top layer",
            "concatenate the top layer's forward then backward final states",
        )
        raise AssertionError

    def mean(self, x: Any, args: list[Any], kwargs: dict[str, Any]) -> _V:
        dim = kwargs.get("dim", args[0] if args else None)
        keepdim = kwargs.get("keepdim", args[1] if len(args) > 1 else False)
        if isinstance(x, _V) and x.kind == "seq" and x.layers > 0 and x.last_rnn and not keepdim:
            if x.activation is not Activation.NONE:
                self.refuse("averages an activated output: edgernn averages the recurrent output itself")
            if dim == (1 if x.batch_first else 0):
                return replace(x, kind="feat", readout=Readout.MEAN)
        self.refuse("is only recognized as the mean over time of the last recurrent layer's output")
        raise AssertionError

    def squeeze(self, x: Any, args: list[Any], kwargs: dict[str, Any]) -> _V:
        dim = kwargs.get("dim", args[0] if args else None)
        if isinstance(x, _V) and x.kind == "hn" and x.last_rnn and x.layers * x.directions == 1 and dim in (0, None):
            return replace(x, kind="feat", readout=Readout.FINAL_STATE)
        self.refuse("is only recognized as h_n.squeeze(0) of a single-layer unidirectional RNN")
        raise AssertionError

    # -- the result ------------------------------------------------------------------------

    def output(self, result: Any) -> Traced:
        main = result[0] if isinstance(result, (tuple, list)) else result
        extra = result[1:] if isinstance(result, (tuple, list)) else ()
        for e in extra:
            if not (isinstance(e, _V) and e.kind in ("rnn", "hn", "hc")):
                self.refuse("returns more than the output and the recurrent state")
        if isinstance(main, _V) and main.kind == "row" and main.last_rnn:
            main = self.row_features(main)
        if isinstance(main, _V) and main.kind == "head" and main.per_step:
            return self.traced(OutputMode.SEQUENCE, Readout.FINAL_STATE, main.activation)
        if isinstance(main, _V) and main.kind == "head":
            return self.traced(OutputMode.LAST, main.readout, main.activation)
        if isinstance(main, _V) and main.kind == "feat":
            return self.traced(OutputMode.LAST, main.readout, main.activation)
        if isinstance(main, _V) and main.kind == "seq" and main.last_rnn:
            return self.traced(OutputMode.SEQUENCE, Readout.FINAL_STATE, main.activation)
        self.refuse(
            "returns something edgernn cannot represent",
            "return the head's output (or the recurrent output / final state)",
        )
        raise AssertionError

    def row_features(self, row: _V) -> _V:
        rows = row.layers * row.directions
        if row.directions == 1 and row.row == rows - 1:
            return replace(row, kind="feat", readout=Readout.FINAL_STATE)
        which = "a lower layer" if row.row < rows - row.directions else "only the backward direction"
        self.refuse(
            f"reads h_n row {row.row}, {which} of the top layer's final state",
            "read h_n[-1] of a unidirectional RNN, or torch.cat((h_n[-2], h_n[-1]), dim=1) of a bidirectional one",
        )
        raise AssertionError

    def traced(self, mode: OutputMode, readout: Readout, activation: Activation) -> Traced:
        directions = 2 if self.rnns[-1].bidirectional else 1
        if readout is Readout.LAST_OUTPUT and directions == 1:
            readout = Readout.FINAL_STATE  # output[:, -1] of a unidirectional RNN is h_n[-1]
        return Traced(mode, readout, activation, tuple(self.called))


def _flat(args: Any) -> list[Any]:
    if isinstance(args, (tuple, list)):
        return [y for a in args for y in _flat(a)]
    return [args]


def _is_size(a: Any) -> bool:
    return isinstance(a, (int, torch.dtype, torch.device, str)) or (isinstance(a, _V) and a.kind == "size")


def _is_zero_state(state: Any) -> bool:
    if isinstance(state, (tuple, list)):
        return all(_is_zero_state(s) for s in state)
    return state is None or (isinstance(state, _V) and state.kind == "zeros")


def _show_index(index: tuple[Any, ...]) -> str:
    def one(i: Any) -> str:
        if isinstance(i, slice):
            parts = ["" if v is None else str(v) for v in (i.start, i.stop)]
            return ":".join(parts) + ("" if i.step is None else f":{i.step}")
        return str(i) if not isinstance(i, _V) else "a tensor"

    return "output[" + ", ".join(one(i) for i in index) + "]"
