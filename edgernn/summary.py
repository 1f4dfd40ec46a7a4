"""Human- and machine-readable descriptions of a model (used by ``inspect`` and ``demo``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edgernn.ir import FullyConnected, QuantizedRNN, iter_fully_connected
from edgernn.types import ModelConfig


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with right-aligned numbers."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(r, widths, numeric)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else str(v)


def config_layers(config: ModelConfig) -> list[dict[str, Any]]:
    """Per-layer description from the architecture alone (a float checkpoint has no quantization)."""
    layers: list[dict[str, Any]] = []
    if config.uses_tokens:
        layers.append(
            {
                "name": "embedding",
                "kind": "embedding",
                "in": config.vocab_size,
                "out": config.embedding_dim,
                "params": config.vocab_size * config.embedding_dim,
                "macs_per_step": 0,
            }  # type: ignore[operator]
        )
    g, h, d = config.cell.gates, config.hidden_size, config.num_directions
    for k in range(config.num_layers):
        i = config.layer_input_size(k)
        layers.append(
            {
                "name": f"rnn{k}",
                "kind": config.cell.value + ("-bi" if config.bidirectional else ""),
                "in": i,
                "out": h * d,
                "params": d * (g * h * (i + h) + 2 * g * h),
                "macs_per_step": d * g * h * (i + h),
            }
        )
    if config.output_size is not None:
        layers.append(
            {
                "name": "head",
                "kind": "dense",
                "in": h * d,
                "out": config.output_size,
                "params": config.output_size * (h * d + 1),
                "macs_per_step": config.output_size * h * d,
            }
        )
    return layers


def _fc_bytes(fc: FullyConnected) -> int:
    return fc.weight.nbytes + fc.bias.nbytes + fc.multiplier.nbytes + fc.shift.nbytes


def describe_model(model: QuantizedRNN) -> dict[str, Any]:
    """Everything ``edgernn inspect --json`` prints for a quantized model."""
    cfg = model.config
    layers = config_layers(cfg)
    by_name = {layer["name"]: layer for layer in layers}
    if model.embedding is not None:
        by_name["embedding"]["weight_bytes"] = model.embedding.table.nbytes
        by_name["embedding"]["quantization"] = {"scale": model.input_q.scale, "zero_point": model.input_q.zero_point}
    for k, layer in enumerate(model.layers):
        entry = by_name[f"rnn{k}"]
        fcs = [v for d in layer.directions for v in vars(d.quant).values() if isinstance(v, FullyConnected)]
        entry["weight_bytes"] = sum(_fc_bytes(fc) for fc in fcs)
        quant: dict[str, Any] = {
            "input": {
                "scale": layer.input_q.scale,
                "zero_point": layer.input_q.zero_point,
                "dtype": f"int{layer.input_bits}",
            },
            "hidden": {"scale": layer.hidden_q.scale, "zero_point": layer.hidden_q.zero_point},
            "weight_scale_range": [
                min(float(fc.weight_scale.min()) for fc in fcs),
                max(float(fc.weight_scale.max()) for fc in fcs),
            ],
        }
        cell_power = getattr(layer.directions[0].quant, "cell_scale_power", None)
        if cell_power is not None:
            quant["cell_scale_power"] = cell_power
        cell_clip = getattr(layer.directions[0].quant, "cell_clip", None)
        if cell_clip is not None:
            quant["cell_clip"] = cell_clip  # int16 units of the cell scale (TFLite's quantized cell clip)
        entry["quantization"] = quant
    if model.head is not None:
        by_name["head"]["weight_bytes"] = _fc_bytes(model.head.fc)
        by_name["head"]["quantization"] = {
            "output": {
                "scale": model.output_q.scale,
                "zero_point": model.output_q.zero_point,
                "dtype": f"int{model.output_bits}",
            }
        }
    prov = model.provenance
    return {
        "config": cfg.to_json(),
        "layers": layers,
        "params": cfg.params,
        "macs_per_step": cfg.macs_per_step,
        "weight_bytes": model.weight_bytes,
        "state_bytes": model.state_bytes,
        "sha256": model.sha256,
        "input_normalization": model.input_mean is not None,
        "class_names": list(model.class_names) if model.class_names else None,
        **({} if model.vocab is None else {"vocab": list(model.vocab)}),
        "provenance": vars(prov).copy(),
        "fully_connected_ops": sum(1 for _ in iter_fully_connected(model)),
    }


def describe_config(config: ModelConfig) -> dict[str, Any]:
    """What ``inspect --json`` prints for a float checkpoint."""
    return {
        "config": config.to_json(),
        "layers": config_layers(config),
        "params": config.params,
        "macs_per_step": config.macs_per_step,
        "weight_bytes": 4 * config.params,
    }


def layers_table(description: dict[str, Any]) -> str:
    rows = []
    for layer in description["layers"]:
        q = layer.get("quantization", {})
        qtext = ", ".join(
            f"{k} {v['scale']:.4g}/{v['zero_point']}" for k, v in q.items() if isinstance(v, dict) and "scale" in v
        )
        if "cell_scale_power" in q:
            qtext += f", cell 2^{q['cell_scale_power']}"
        if "cell_clip" in q:
            qtext += f", clip +-{q['cell_clip']}"
        rows.append(
            [
                layer["name"],
                layer["kind"],
                layer["in"],
                layer["out"],
                layer["params"],
                layer["macs_per_step"],
                layer.get("weight_bytes"),
                qtext or None,
            ]
        )
    return format_table(["layer", "kind", "in", "out", "params", "MACs/step", "bytes", "scale/zero point"], rows)
