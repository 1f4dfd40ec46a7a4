"""Generated C of an encoder-decoder: the two single-model exports plus the bridge and the decoder loop.

The folder is the single-model layout (``edgernn.export.c``): the runtime, then the encoder as
``<prefix>_enc_model.{h,c}`` and the decoder as ``<prefix>_dec_model.{h,c}`` (each rendered by the
single-model exporter, so every kernel is the one that path tests), then ``<prefix>_seq2seq.{h,c}``:
the bridge's weights and the API ``<prefix>_encode_reset`` / ``_encode_step`` / ``_encode`` /
``_encode_done`` / ``_decode_step`` / ``_greedy``. No malloc; greedy decoding stops at ``eos`` or
``MAX_OUTPUT_LEN`` tokens; a bidirectional encoder takes at most ``MAX_INPUT_LEN`` tokens (its
whole-sequence buffers live in the state struct).

``selftest/selftest.c`` decodes the sources of ``selftest/vectors.bin`` and compares every output
token with the integer reference's greedy decoding (format: :func:`encode_vectors`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgernn import __version__
from edgernn.errors import InputDataError
from edgernn.export import ExportOptions
from edgernn.export import c as cexport
from edgernn.export.c_packing import pack_k, round_up
from edgernn.seq2seq.model import Seq2SeqRNN
from edgernn.seq2seq.runner import Seq2SeqRunner, check_source
from edgernn.types import CellType

VECTOR_MAGIC = b"ERNNS2S1"
DEFAULT_MAX_INPUT_LEN = 64
SELFTEST_MAX_SOURCE = 1024  # the self-test's source buffer (SELFTEST_MAX_SOURCE in selftest.c)


@dataclass(frozen=True)
class Seq2SeqBudget:
    """Flash and RAM of an export: constant data, and ``sizeof(<prefix>_state_t)`` (all the RAM it needs)."""

    weight_bytes: int
    bridge_bytes: int
    state_struct_bytes: int


def c_string(text: str) -> str:
    """A C string literal of ``text``'s UTF-8 bytes (octal escapes for anything but plain ASCII)."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        out.append(ch if 32 <= byte < 127 and ch not in '"\\?' else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _describe(model: Seq2SeqRNN) -> str:
    enc, dec = model.encoder.config, model.decoder.config
    return (
        f"{'bidirectional ' if enc.bidirectional else ''}{enc.num_layers}-layer {enc.cell.value.upper()} "
        f"{enc.hidden_size} encoder ({enc.vocab_size} source tokens), {dec.num_layers}-layer "
        f"{dec.cell.value.upper()} {dec.hidden_size} decoder ({dec.vocab_size} target tokens)"
    )


def _bridge(model: Seq2SeqRNN, packing: int) -> tuple[cexport._Arrays, list[dict[str, object]]]:
    arrays = cexport._Arrays()
    layers = []
    for k, (b, layer) in enumerate(zip(model.bridge, model.decoder.layers)):
        entry: dict[str, object] = {
            "h_fc": arrays.fc_s8(f"bridge{k}_h", [b.h_fc], f"bridge layer {k}, hidden", packing, False),
            "to_hidden": f"{{{b.to_hidden.multiplier}, {b.to_hidden.shift}}}",
            "zero_point": layer.hidden_q.zero_point,
        }
        if b.c_fc is not None:
            entry["c_fc"] = arrays.fc_s8(f"bridge{k}_c", [b.c_fc], f"bridge layer {k}, cell state", packing, False)
        layers.append(entry)
    return arrays, layers


def _state_struct_bytes(model: Seq2SeqRNN, max_input_len: int) -> int:
    """``sizeof(<prefix>_state_t)`` (checked by the generated C at compile time)."""
    enc = cexport.StateLayout.of(model.encoder, False)
    dec = cexport.StateLayout.of(model.decoder, False)
    e_cfg = model.encoder.config
    size = enc.total_bytes
    size = round_up(size, 2) + dec.total_bytes
    size += 2 * (_bridge_buffer(model) + model.decoder.config.hidden_size)
    if e_cfg.bidirectional:
        width = e_cfg.num_directions * e_cfg.hidden_size
        seq_width = width * (2 if e_cfg.num_layers > 1 else 1)
        size += max_input_len * width + max_input_len * seq_width
    return round_up(size, 2)


def _bridge_buffer(model: Seq2SeqRNN) -> int:
    e = model.encoder.config
    return round_up(e.hidden_size * e.num_directions, 16) + 2


def budget(model: Seq2SeqRNN, target: str = "host", max_input_len: int = DEFAULT_MAX_INPUT_LEN) -> Seq2SeqBudget:
    arrays, _ = _bridge(model, pack_k(target))
    enc = cexport.budget(model.encoder, False, target).weight_bytes
    dec = cexport.budget(model.decoder, False, target).weight_bytes
    return Seq2SeqBudget(enc + dec + arrays.nbytes, arrays.nbytes, _state_struct_bytes(model, max_input_len))


def render(
    model: Seq2SeqRNN, prefix: str = "model", target: str = "host", max_input_len: int = DEFAULT_MAX_INPUT_LEN
) -> dict[str, bytes]:
    """Every file of the export folder (relative path -> content), vectors excepted."""
    cexport.validate_prefix(prefix)
    if not 1 <= max_input_len <= 1 << 16:
        raise InputDataError(f"max_input_len {max_input_len} is outside [1, 65536]")
    files: dict[str, bytes] = {}
    for part, sub in (("enc", model.encoder), ("dec", model.decoder)):
        rendered = cexport.render(sub, ExportOptions(prefix=f"{prefix}_{part}", target=target))
        for rel, content in rendered.items():
            if rel.startswith(("include/edgernn/", "boards/")) or rel.startswith("src/ernn"):
                files[rel] = content  # the runtime: the same in both renders
            elif rel in (f"include/{prefix}_{part}_model.h", f"src/{prefix}_{part}_model.c"):
                files[rel] = content
    packing = pack_k(target)
    arrays, layers = _bridge(model, packing)
    banner = f"Generated by edgernn.seq2seq.export_c (edgernn {__version__}) for seq2seq model sha256 {model.sha256}."
    context = {
        "p": prefix,
        "P": prefix.upper(),
        "banner_c": f"/*\n * {cexport.SPDX}\n * {banner}\n * Do not edit: re-export the model instead.\n */",
        "description": _describe(model),
        "sha256": model.sha256,
        "source_vocab": len(model.source_vocab),
        "target_vocab": len(model.target_vocab),
        "bos": model.bos,
        "eos": model.eos,
        "max_output_len": model.max_output_len,
        "max_input_len": max_input_len,
        "bidirectional": model.encoder.config.bidirectional,
        "bridge_bytes": arrays.nbytes,
        "bridge_buffer": _bridge_buffer(model),
        "state_bytes": _state_struct_bytes(model, max_input_len),
        "arrays": arrays.items,
        "layers": layers,
        "source_names": [c_string(n) for n in model.source_vocab],
        "target_names": [c_string(n) for n in model.target_vocab],
        "gru": model.decoder.config.cell is CellType.GRU,
        "lstm": model.decoder.config.cell is CellType.LSTM,
        "packing": packing,
        "target": target,
    }
    env = cexport._environment()
    for template, dest in (
        ("seq2seq.h.j2", f"include/{prefix}_seq2seq.h"),
        ("seq2seq.c.j2", f"src/{prefix}_seq2seq.c"),
        ("seq2seq_selftest.c.j2", "selftest/selftest.c"),
    ):
        files[dest] = env.get_template(template).render(context).encode()
    files[cexport.LICENSE_NAME] = cexport.license_path().read_bytes()
    # the single-model export's Makefile: the target's compiler, flags and runner, one object per source
    files["Makefile"] = (
        env.get_template("Makefile.j2")
        .render(
            banner_hash=f"# {cexport.SPDX}\n# {banner}\n# Do not edit: re-export the model instead.",
            target=target,
            rules=cexport.build_rules(target),
            runtime_mode="copy",
            sources=sorted(rel for rel in files if rel.endswith(".c") and rel.startswith("src/")),
        )
        .encode()
    )
    b = budget(model, target, max_input_len)
    manifest = {
        "banner": banner,
        "generator": cexport.GENERATOR,  # so a later export may replace this folder
        "kind": "seq2seq",
        "edgernn_version": __version__,
        "model_sha256": model.sha256,
        "prefix": prefix,
        "path": "int8",
        "target": target,
        "budget": {"weight_bytes": b.weight_bytes, "bridge_bytes": b.bridge_bytes, "ram_bytes": b.state_struct_bytes},
        "files": sorted([*files, "selftest/vectors.bin", cexport.MANIFEST_NAME]),
    }
    files[cexport.MANIFEST_NAME] = (json.dumps(manifest, indent=1) + "\n").encode()
    return files


def encode_vectors(model: Seq2SeqRNN, sources: Sequence[Sequence[int]], batch: int = 256) -> bytes:
    """The self-test file: each source with the integer reference's greedy output."""
    if not sources:
        raise InputDataError("no source sequences for the test vectors")
    checked = [check_source(model, s) for s in sources]
    runner = Seq2SeqRunner(model, integer=True)
    chunks = [VECTOR_MAGIC, model.sha256.encode("ascii"), struct.pack("<I", len(checked))]
    for start in range(0, len(checked), batch):
        part = checked[start : start + batch]
        for src, out in zip(part, runner.greedy(part)):
            for seq in (src, out):
                chunks.append(struct.pack("<I", len(seq)) + np.asarray(seq, dtype="<i4").tobytes())
    return b"".join(chunks)


def default_sources(model: Seq2SeqRNN) -> list[np.ndarray]:
    """A few seeded random sources (with the first and last token ids) for the bundled vectors."""
    rng = np.random.default_rng(int(model.sha256[:8], 16))
    vocab = len(model.source_vocab)
    seqs = [rng.integers(0, vocab, size=n) for n in (12, 5, 1, 8)]
    seqs[0][:2] = [0, vocab - 1]
    return seqs


def export(
    model: Seq2SeqRNN,
    output: str | Path,
    *,
    prefix: str = "model",
    target: str = "host",
    max_input_len: int = DEFAULT_MAX_INPUT_LEN,
    sources: Sequence[Sequence[int]] | None = None,
) -> tuple[Path, ...]:
    """Write the export folder (atomically; replaces only an earlier edgernn C export)."""
    sources = default_sources(model) if sources is None else sources
    longest = max((len(s) for s in sources), default=0)
    limit = max_input_len if model.encoder.config.bidirectional else SELFTEST_MAX_SOURCE
    if longest > limit:
        raise InputDataError(
            f"a test-vector source has {longest} tokens; the export takes at most {limit}",
            "raise --max-input-len" if limit == max_input_len else "use shorter test sources",
        )
    files = render(model, prefix, target, max_input_len)
    files["selftest/vectors.bin"] = encode_vectors(model, sources)
    return cexport.write_folder_atomically(Path(output), files)
