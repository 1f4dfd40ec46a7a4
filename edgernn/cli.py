"""The ``edgernn`` command line: thin click commands over library functions.

Heavy modules (numpy, torch) are imported inside the commands, so ``edgernn --help`` is fast and
``run``/``inspect`` work without torch. A user error (:class:`EdgeRNNError`) prints one line and
exits with status 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from edgernn import __version__
from edgernn.errors import EdgeRNNError, MissingTorchError
from edgernn.fileio import OutputFileError
from edgernn.types import EXPORT_TARGETS, INIT_SCHEMES, Readout

SPLIT_HELP = "Data is split 80/10/10 (train/validation/test) with this seed, stratified by class."


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # the order of the workflow, as defined below

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EdgeRNNError as exc:
            raise click.ClickException(str(exc)) from None


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def _check_parent(path: Path) -> None:
    """An output's folder must exist: edgernn never creates missing parent folders (a typo in a
    path would otherwise leave a trail of new folders)."""
    if not path.absolute().parent.is_dir():
        raise OutputFileError(
            f"cannot write {path}: the folder {path.parent} does not exist", "create it first or fix the path"
        )


def _existing_parent(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """The ``-o`` callback of :func:`_check_parent`."""
    if value is not None:
        _check_parent(value)
    return value


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingTorchError("this command needs PyTorch, which is not installed") from None


def _load_data(dataset: str | None, data: Path | None):  # noqa: ANN202 - SequenceData
    from edgernn.data import load_dataset, load_npz

    if dataset and data:
        _fail("pass either --dataset or --data, not both")
    return load_npz(data) if data else load_dataset(dataset or "fsdd")


def _echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=float))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgernn")
def cli() -> None:
    """edgernn: exact int8 GRU/LSTM/RNN from PyTorch to microcontrollers, one step at a time."""


@cli.command(short_help="train a model on a built-in dataset or your .npz")
@click.option("--dataset", help="Built-in dataset name (default: fsdd, spoken digits).")
@click.option("--data", type=click.Path(path_type=Path, dir_okay=False), help="Your data as .npz (see README).")
@click.option("--cell", type=click.Choice(["gru", "lstm", "rnn"]), default="gru", show_default=True)
@click.option("--hidden", type=int, default=32, show_default=True, help="Hidden units per layer.")
@click.option("--layers", type=click.IntRange(1, 4), default=1, show_default=True)
@click.option("--bidirectional", is_flag=True, help="Bidirectional layers (whole sequences only, no streaming).")
@click.option("--embedding-dim", type=int, default=16, show_default=True, help="Embedding width for token data.")
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--lr", type=float, default=3e-3, show_default=True, help="Adam learning rate.")
@click.option("--patience", type=click.IntRange(min=1), default=6, show_default=True, help="Early stopping patience.")
@click.option("--seed", type=int, default=0, show_default=True, help="Training seed. " + SPLIT_HELP)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option(
    "--qat",
    type=click.Choice(["off", "on", "auto"]),
    default="off",
    is_flag=False,
    flag_value="on",
    show_default=True,
    help="Quantization-aware fine-tuning after float training: --qat (or --qat on) always; --qat auto only "
    "when post-training int8 loses more than 0.5 points (classification) or 2% relative MAE on validation.",
)
@click.option("--qat-epochs", type=click.IntRange(min=1), default=5, show_default=True, help="QAT epochs.")
@click.option("--qat-lr", type=float, help="QAT learning rate (default: a tenth of --lr).")
@click.option(
    "--dropout",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Dropout between stacked layers and before the head, in training only (recorded in the checkpoint).",
)
@click.option(
    "--tbptt",
    type=click.IntRange(min=1),
    help="Truncated BPTT for long streams with per-step targets: train in chunks of K steps, the state "
    "carried (detached) from chunk to chunk of the same sequence.",
)
@click.option(
    "--validation-fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Share of the data held out for validation (default 0.1; the test split stays 10%).",
)
@click.option(
    "--validation-data",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Validate (early stopping) on this .npz instead of a split of the training data.",
)
@click.option(
    "--test-data",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Report the task metric on this .npz instead of a split of the training data.",
)
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), help="Stop training after this long.")
@click.option(
    "--readout",
    type=click.Choice([r.value for r in Readout]),
    default=Readout.FINAL_STATE.value,
    show_default=True,
    help="What the head of a per-sequence classifier/regressor reads: the final state (streams), the output at "
    "the last step, or the mean of the output over time (whole fixed-length sequences: no streaming, no TFLite).",
)
@click.option(
    "--init",
    type=click.Choice(list(INIT_SCHEMES)),
    default=INIT_SCHEMES[0],
    show_default=True,
    help="Initial recurrent weights: input weights scaled to the input width, orthogonal recurrence, LSTM "
    "forget bias 1; or PyTorch's own draw.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    callback=_existing_parent,
    help="Checkpoint to write (.safetensors); its folder must exist.",
)
def train(
    dataset: str | None,
    data: Path | None,
    cell: str,
    hidden: int,
    layers: int,
    bidirectional: bool,
    embedding_dim: int,
    epochs: int,
    batch_size: int,
    lr: float,
    patience: int,
    seed: int,
    progress: bool,
    qat: str,
    qat_epochs: int,
    qat_lr: float | None,
    dropout: float,
    tbptt: int | None,
    validation_fraction: float | None,
    validation_data: Path | None,
    test_data: Path | None,
    max_minutes: float | None,
    readout: str,
    init: str,
    output: Path,
) -> None:
    """Train a float model (optionally fine-tuned for int8 with --qat) and save a checkpoint.

    The data's source and content fingerprint, the split seed and the training options are
    recorded in the checkpoint, so `quantize` finds the same data and split by itself."""
    _require_torch()
    from edgernn.models.qat import QATConfig
    from edgernn.pipeline import (
        TrainingData,
        config_for_data,
        describe_training,
        load_source,
        train_checkpoint,
        with_extra_data,
    )

    if dataset and data:
        _fail("pass either --dataset or --data, not both")
    full, source = load_source(dataset, data)
    config = config_for_data(
        full,
        cell=cell,
        hidden_size=hidden,
        num_layers=layers,
        bidirectional=bidirectional,
        embedding_dim=embedding_dim,
        readout=readout,
    )
    plan = with_extra_data(
        TrainingData(full, source, seed, validation_fraction), config, full.class_names, validation_data, test_data
    )
    result = train_checkpoint(
        plan,
        config,
        output,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        patience=patience,
        seed=seed,
        progress=progress,
        qat=None if qat == "off" else QATConfig(mode=qat, epochs=qat_epochs, learning_rate=qat_lr),
        dropout=dropout,
        tbptt=tbptt,
        max_minutes=max_minutes,
        init=init,
    )
    for line in describe_training(result):
        click.echo(line)
    click.echo(f"wrote {output}")


@cli.command(short_help="calibrate and quantize a checkpoint to an int8 .ernn model")
@click.argument("checkpoint", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dataset", help="Calibration/evaluation dataset (default: the one the checkpoint was trained on).")
@click.option("--data", type=click.Path(path_type=Path, dir_okay=False), help="Calibration/evaluation data as .npz.")
@click.option("--observer", type=click.Choice(["minmax", "percentile"]), default="minmax", show_default=True)
@click.option("--percentile", type=float, default=99.99, show_default=True)
@click.option(
    "--cell-clip",
    type=click.FloatRange(min=0.0),
    default=0.0,
    help="LSTM only: clip the cell state to [-CLIP, CLIP] after each update (TFLite's cell_clip; 0 = none).",
)
@click.option(
    "--calibration-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="At most this many training sequences calibrate the ranges.",
)
@click.option(
    "--head-bits",
    type=click.Choice(["8", "16"]),
    help="Bits of the dense head's output (default: 16 for regression, 8 for classification; docs/head_output.md).",
)
@click.option(
    "--input-bits",
    type=click.Choice(["8", "16"]),
    help="Bits of the model's input (default: 16 for regression on float features, else 8; docs/input_bits.md).",
)
@click.option(
    "--seed",
    type=int,
    help="The split seed (default: the one the checkpoint was trained with; a different one is refused). " + SPLIT_HELP,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    callback=_existing_parent,
    help="Quantized model to write (.ernn); its folder must exist.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def quantize(
    checkpoint: Path,
    dataset: str | None,
    data: Path | None,
    observer: str,
    percentile: float,
    cell_clip: float,
    calibration_size: int,
    head_bits: str | None,
    input_bits: str | None,
    seed: int | None,
    output: Path,
    as_json: bool,
) -> None:
    """Calibrate on the training split, quantize to int8, report float vs int8 on the test split.

    The checkpoint's recorded data and split seed are used (a .npz is found again by its path);
    --data/--dataset/--seed that differ from them are refused."""
    _require_torch()
    from edgernn.models import load_checkpoint
    from edgernn.pipeline import quantize_checkpoint, quantize_report, recorded_training_data
    from edgernn.quant import QuantizeOptions

    if dataset and data:
        _fail("pass either --dataset or --data, not both")
    ckpt = load_checkpoint(checkpoint)
    plan = recorded_training_data(ckpt, dataset=dataset, data=data, seed=seed)
    options = QuantizeOptions(
        observer=observer,
        percentile=percentile,
        max_calibration_sequences=calibration_size,
        cell_clip=cell_clip,
        head_output_bits=None if head_bits is None else int(head_bits),
        input_bits=None if input_bits is None else int(input_bits),
    )
    model = quantize_checkpoint(ckpt, plan, output, options=options)
    p = model.provenance
    assert p.metric_name is not None and p.float_metric is not None and p.int8_metric is not None
    report = quantize_report(p.metric_name, p.float_metric, p.int8_metric, plan.splits()[2])
    if as_json:
        _echo_json(
            {
                "metric": p.metric_name,
                "float_metric": p.float_metric,
                "int8_metric": p.int8_metric,
                "model": str(output),
                "sha256": model.sha256,
                "weight_bytes": model.weight_bytes,
                "calibration": p.calibration,
                "calibration_sequences": p.calibration_sequences,
                **report.to_json(),
            }
        )
    else:
        click.echo(report.text())
        click.echo(f"wrote {output}")


@cli.command(short_help="the task metric of a model on data, per backend")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("data", required=False)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    help="A backend to run (repeatable; default: float, reference, c, onnx, tflite, tflm).",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The model's float checkpoint: adds its PyTorch metric, and without DATA uses its recorded test split.",
)
@click.option(
    "--split",
    "which",
    type=click.Choice(["test", "all"]),
    default="test",
    show_default=True,
    help="For a built-in dataset: its test split, or all of it.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="For a built-in dataset: " + SPLIT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(
    model: Path,
    data: str | None,
    backends: tuple[str, ...],
    checkpoint: Path | None,
    which: str,
    seed: int,
    as_json: bool,
) -> None:
    """The task metric of MODEL (.ernn) on DATA (a .npz, or a built-in dataset's test split) on each
    backend: accuracy per sequence or per step, or MAE, as the model's output mode says. Backends
    that need a missing package are listed with the extra to install; the int8 backends' outputs
    are compared with the integer reference's, bit for bit (LiteRT, "tflite", is documented as
    within 1 LSB; TFLite Micro, "tflm", runs the same file exactly)."""
    from edgernn.evaluation import EVALUATE_BACKENDS
    from edgernn.pipeline import evaluation_data, evaluation_report

    chosen = backends or EVALUATE_BACKENDS
    if checkpoint is not None:
        _require_torch()
    loaded, test, what = evaluation_data(model, data, checkpoint=checkpoint, which=which, seed=seed)
    report = evaluation_report(loaded, test, what, chosen, checkpoint)
    if as_json:
        _echo_json(report.to_json())
    else:
        click.echo(report.text())


@cli.command(short_help="stream sequences through a model on a backend")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("inputs", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--backend", default="reference", show_default=True, help="reference, float, or an installed backend.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    callback=_existing_parent,
    help="Write per-step outputs instead of printing; the suffix picks the format: .npz, .csv or .json.",
)
def run(model: Path, inputs: Path, backend: str, output: Path | None) -> None:
    """Stream INPUTS through MODEL: .npz sequences, or one sequence as a text table (.csv, .tsv,
    .txt) with one row per time step. The table's delimiter is the first of tab, ';' and ',' found
    in its first line (none: spaces); a UTF-8 byte order mark and a header row are skipped."""
    from edgernn.pipeline import plural, stream_file

    result = stream_file(model, inputs, backend=backend, output=output)
    if output is None:
        click.echo(result.text)
    else:
        click.echo(
            f"streamed {plural(result.sequences, 'sequence')} ({plural(result.steps, 'step')}) on {backend}; "
            f"wrote {output}"
        )


@cli.command(short_help="generate text, tokens or a forecast from a prompt")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--prompt", help="Text prompt, mapped to token ids with the model's vocabulary.")
@click.option("--prompt-tokens", help="Prompt as comma-separated token ids, e.g. 4,17,2.")
@click.option(
    "--prompt-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Feature models: prompt frames (.csv/.tsv/.txt, a row per step, or .npz); outputs are fed back as inputs.",
)
@click.option("--steps", type=click.IntRange(min=0), default=100, show_default=True, help="Tokens (frames) to make.")
@click.option("--temperature", type=click.FloatRange(min=0), default=1.0, show_default=True, help="0: greedy.")
@click.option("--top-k", type=click.IntRange(min=0), default=0, show_default=True, help="Keep the k best; 0: all.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="Sampling seed.")
@click.option("--backend", default="reference", show_default=True, help="reference, float, or an installed backend.")
@click.option(
    "--target",
    type=click.Choice(list(EXPORT_TARGETS)),
    help="Instead of a Python backend, export the model to C and run its <prefix>_generate on this target "
    "(host: gcc; cortex-m4 etc.: under QEMU).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (tokens, text, values).")
def generate(
    model: Path,
    prompt: str | None,
    prompt_tokens: str | None,
    prompt_file: Path | None,
    steps: int,
    temperature: float,
    top_k: int,
    seed: int,
    backend: str,
    target: str | None,
    as_json: bool,
) -> None:
    """Stream the prompt through MODEL, then sample STEPS tokens with integer sampling (the same tokens on
    every backend and the C runtime for a given seed), feeding each back. Prints the generated text
    (models with a vocabulary), token ids, or for forecasting models a CSV row per generated frame."""
    import tempfile

    from edgernn import ir
    from edgernn.generation import command_prompt, format_generation, generate_on_target
    from edgernn.generation import generate as run_generation

    if target is not None and backend != "reference":
        _fail("pass either --backend (a Python backend) or --target (the C export on a target), not both")
    from edgernn.seq2seq import is_seq2seq_file

    if is_seq2seq_file(model):
        from edgernn.seq2seq.pipeline import generate_from_input

        if prompt is None or prompt_tokens is not None or prompt_file is not None or target is not None:
            _fail("an encoder-decoder model takes its input sequence as --prompt (and runs on the reference)")
        click.echo(generate_from_input(model, prompt, temperature, top_k, seed, as_json))
        return
    quantized = ir.load(model)
    start = command_prompt(quantized, prompt, prompt_tokens, prompt_file)
    settings = dict(temperature=temperature, top_k=top_k, seed=seed)
    if target is None:
        result = run_generation(quantized, start, steps, backend=backend, **settings)
    else:
        with tempfile.TemporaryDirectory(prefix="edgernn-generate-") as work:
            result = generate_on_target(quantized, start, steps, target=target, work_dir=Path(work), **settings)
    click.echo(format_generation(result, as_json))


@cli.command(short_help="layers, parameters, MACs, bytes and quantization of a model")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def inspect(model: Path, as_json: bool) -> None:
    """Layers, parameters, MACs per step, weight bytes and quantization of a .ernn or checkpoint."""
    from edgernn.pipeline import describe_file
    from edgernn.summary import layers_table

    description = describe_file(model)
    if as_json:
        _echo_json(description)
        return
    cfg = description["config"]
    click.echo(
        f"{model}: {cfg['cell']} x{cfg['num_layers']}{' bidirectional' if cfg['bidirectional'] else ''}, "
        f"hidden {cfg['hidden_size']}, output {cfg['output_mode']} ({cfg['task']})"
    )
    click.echo(layers_table(description))
    click.echo(
        f"params {description['params']}, MACs/step {description['macs_per_step']}, "
        f"weight bytes {description['weight_bytes']}"
        + (f", state bytes {description['state_bytes']}" if "state_bytes" in description else "")
    )
    if "sha256" in description:
        click.echo(f"sha256 {description['sha256']}")


@cli.command(short_help="generated C, ONNX or TFLite from a quantized model")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["c", "onnx", "onnx-qdq", "tflite", "tflite-exact", "all"]), required=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    required=True,
    help="Output folder (c, all), or file (onnx, onnx-qdq, tflite, tflite-exact; an existing folder or a path ending "
    "in / gets <prefix>.onnx / <prefix>.tflite inside). Its parent folder must exist.",
)
@click.option("--prefix", default="model", show_default=True, help="C identifier prefix of the generated API.")
@click.option(
    "--float",
    "float_weights",
    is_flag=True,
    help="float32 instead of int8 (C: the float path for cores with an FPU; ONNX/TFLite: float32 graphs).",
)
@click.option("--target", type=click.Choice(list(EXPORT_TARGETS)), default="host", show_default=True)
@click.option("--max-flash", type=click.IntRange(min=1), help="C: fail if constant data exceeds this many bytes.")
@click.option("--max-ram", type=click.IntRange(min=1), help="C: fail if state + scratch exceed this many bytes.")
@click.option(
    "--runtime",
    type=click.Choice(["copy", "none"]),
    default="copy",
    show_default=True,
    help="C: copy the runtime into the export, or none: the model only, built against a runtime installed apart.",
)
@click.option("--single-header", is_flag=True, help="C: one <prefix>.h with runtime and model (stb style).")
def export(
    model: Path,
    fmt: str,
    output: str,
    prefix: str,
    float_weights: bool,
    target: str,
    max_flash: int | None,
    max_ram: int | None,
    runtime: str,
    single_header: bool,
) -> None:
    """Export MODEL (.ernn) as generated C, ONNX, TFLite, or all of them with a manifest."""
    from edgernn import ir
    from edgernn.export import ExportOptions, export_model
    from edgernn.pipeline import plural

    options = ExportOptions(
        prefix=prefix,
        float_weights=float_weights,
        target=target,
        max_flash=max_flash,
        max_ram=max_ram,
        runtime=runtime,
        single_header=single_header,
    )
    path = Path(output)
    if output.endswith(("/", os.sep)) and fmt not in ("c", "all") and not path.is_dir():
        raise OutputFileError(f"the folder {output} does not exist", "create it first, or name the output file")
    _check_parent(path)
    quantized = ir.load(model)
    result = export_model(quantized, fmt, path, options)
    for line in result.report:
        click.echo(line)
    where = path if fmt in ("c", "all") else result.files[0].parent
    click.echo(f"wrote {plural(len(result.files), 'file')} to {where}")


@cli.command(short_help="the C runtime as a PlatformIO/Arduino/ESP-IDF/Zephyr/CMake package")
@click.argument("output", type=click.Path(path_type=Path, file_okay=False), callback=_existing_parent)
@click.option(
    "--ecosystem",
    type=click.Choice(["platformio", "arduino", "esp-idf", "zephyr", "cmake"]),
    required=True,
    help="Layout and manifest to write (see docs/integration.md).",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Model (.ernn) the package's example runs (default: a small random GRU, 6 inputs, 4 classes).",
)
@click.option("--url", help="Repository/homepage URL written into the manifests (default: edgernn's).")
@click.option(
    "--target",
    type=click.Choice(list(EXPORT_TARGETS)),
    help="Core the example's model is packed for (default: cortex-m4; host for --ecosystem cmake).",
)
def package(output: Path, ecosystem: str, model: Path | None, url: str | None, target: str | None) -> None:
    """Write edgernn's C runtime to OUTPUT as a library package for an embedded ecosystem, with an
    example that runs a model (OUTPUT must be new, empty or a previous package)."""
    from edgernn import ir
    from edgernn.packaging import Metadata, write_package

    meta = Metadata(url=url) if url else Metadata()
    files = write_package(ecosystem, output, ir.load(model) if model else None, meta, target)
    click.echo(f"wrote {len(files)} files to {output}")


@cli.command(short_help="latency, memory and accuracy reports beside the peers")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    callback=_existing_parent,
    help="Folder for report.json, report.md and report.html (created; its parent must exist).",
)
@click.option(
    "--backends",
    default="reference,float,c,onnx,tflite,tflm",
    show_default=True,
    help="Comma-separated edgernn backends to measure.",
)
@click.option("--targets", default="", help="Comma-separated cores to count instructions on, e.g. cortex-m4,aarch64.")
@click.option("--dataset", help="Built-in dataset whose test split measures accuracy.")
@click.option("--data", type=click.Path(path_type=Path, dir_okay=False), help="Held-out data (.npz) for accuracy.")
@click.option("--seed", type=int, default=0, show_default=True, help=SPLIT_HELP)
@click.option("--steps", type=click.IntRange(min=10), help="Timed steps per implementation.")
@click.option("--quick", is_flag=True, help="A short smoke run (few steps, two hidden sizes).")
@click.option("--no-memory", is_flag=True, help="Skip the peak-RSS measurement.")
def bench(
    model: Path,
    output_dir: Path,
    backends: str,
    targets: str,
    dataset: str | None,
    data: Path | None,
    seed: int,
    steps: int | None,
    quick: bool,
    no_memory: bool,
) -> None:
    """Measure latency, memory and accuracy of MODEL beside its peers; write a report."""
    from tqdm import tqdm

    from edgernn import ir
    from edgernn.bench import BenchOptions, run_bench
    from edgernn.bench.report import render_text, write_report
    from edgernn.data import split

    quantized = ir.load(model)
    held_out = None
    if dataset or data:
        held_out = split(_load_data(dataset, data), seed=seed)[2]
        _check_fits(quantized, held_out)  # before minutes of timing
    fields = dict(
        backends=tuple(b for b in backends.split(",") if b),
        targets=tuple(t for t in targets.split(",") if t),
        memory=not no_memory,
        data=held_out,
    )
    if steps is not None:
        fields["steps"] = steps
    options = BenchOptions.quick_options(**fields) if quick else BenchOptions(**fields)
    with tqdm(desc="bench", unit="stage", leave=False) as bar:

        def progress(message: str) -> None:
            bar.set_description(message)
            bar.update(1)

        result = run_bench(quantized, options, progress)
    write_report(result.report, result.samples, output_dir)
    click.echo(render_text(result.report))
    click.echo(f"wrote {output_dir / 'report.json'}, report.md, report.html")


def _check_fits(model, data) -> None:  # noqa: ANN001 - QuantizedRNN, SequenceData (imported lazily)
    """Every sequence of ``data`` has the shape and values ``model`` accepts (the stream's own checks)."""
    from edgernn.runtime.stream import InputAdapter

    adapter = InputAdapter(model, integer=True)
    for seq in data.sequences:
        adapter.user_input(seq, time_axis=True)


@cli.command(short_help="train, quantize and stream the default model, and print a report")
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("demo-out"),
    show_default=True,
    callback=_existing_parent,
    help="Folder for the demo's files: new, empty, or an earlier demo's (then replaced).",
)
@click.option("--cell", type=click.Choice(["gru", "lstm", "rnn"]), default="gru", show_default=True)
@click.option("--hidden", type=int, default=32, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--progress/--no-progress", default=True)
def demo(output_dir: Path, cell: str, hidden: int, epochs: int, seed: int, progress: bool) -> None:
    """Train on FSDD spoken digits, quantize to int8, stream the test split, print a report.

    Backends and exports whose optional packages are missing are skipped (the report says which,
    and the extra that brings them)."""
    _require_torch()
    from edgernn.pipeline import run_demo

    click.echo(run_demo(output_dir, cell=cell, hidden_size=hidden, epochs=epochs, seed=seed, progress=progress))


@cli.group(cls=_Group, short_help="encoder-decoder models: train, convert sequences, export C")
def seq2seq() -> None:
    """Sequence to sequence: an encoder RNN reads the input, a decoder RNN writes the output
    (docs/seq2seq.md). Data: paired token sequences in .npz (src, src_lengths, tgt, tgt_lengths,
    src_vocab, tgt_vocab)."""


@seq2seq.command("train", short_help="train and quantize an encoder-decoder on paired sequences")
@click.option("--data", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Paired .npz.")
@click.option("--cell", type=click.Choice(["gru", "lstm", "rnn"]), default="gru", show_default=True)
@click.option("--encoder-hidden", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--decoder-hidden", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--encoder-layers", type=click.IntRange(1, 4), default=1, show_default=True)
@click.option("--decoder-layers", type=click.IntRange(1, 4), default=1, show_default=True)
@click.option("--bidirectional/--unidirectional", default=True, show_default=True, help="The encoder's directions.")
@click.option("--embedding-dim", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--max-output-len", type=click.IntRange(2, 1024), default=32, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--lr", type=float, default=3e-3, show_default=True)
@click.option("--minutes", type=float, help="Stop training after this many minutes.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of training and the 90/10 split.")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True, callback=_existing_parent
)
def seq2seq_train(
    data: Path,
    cell: str,
    encoder_hidden: int,
    decoder_hidden: int,
    encoder_layers: int,
    decoder_layers: int,
    bidirectional: bool,
    embedding_dim: int,
    max_output_len: int,
    epochs: int,
    batch_size: int,
    lr: float,
    minutes: float | None,
    seed: int,
    output: Path,
) -> None:
    """Teacher-forced training on 90% of the pairs, int8 quantization, greedy error rates on the rest."""
    _require_torch()
    from edgernn.seq2seq.data import load_pairs
    from edgernn.seq2seq.pipeline import train_and_quantize
    from edgernn.seq2seq.training import Seq2SeqConfig, Seq2SeqTraining

    pairs = load_pairs(data)
    config = Seq2SeqConfig(
        cell=cell,
        encoder_hidden=encoder_hidden,
        decoder_hidden=decoder_hidden,
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
        bidirectional=bidirectional,
        source_embedding=embedding_dim,
        target_embedding=embedding_dim,
        max_output_len=max_output_len,
    )
    training = Seq2SeqTraining(epochs=epochs, batch_size=batch_size, learning_rate=lr, seed=seed, max_minutes=minutes)
    _, report = train_and_quantize(pairs, output, config, training, log=click.echo)
    for line in report.lines():
        click.echo(line)
    click.echo(f"wrote {output}")


@seq2seq.command("convert", short_help="decode input sequences with an encoder-decoder")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--backend", type=click.Choice(["reference", "float"]), default="reference", show_default=True)
@click.option("--beam", type=click.IntRange(min=1), default=1, show_default=True, help="Beam width (1: greedy).")
def seq2seq_convert(model: Path, inputs: tuple[str, ...], backend: str, beam: int) -> None:
    """Print the output sequence of each input: characters if every source token is one character
    (e.g. a word's letters), else token names separated by spaces."""
    from edgernn.seq2seq import Seq2SeqRunner, load
    from edgernn.seq2seq.pipeline import detokenize, tokenize

    m = load(model)
    runner = Seq2SeqRunner(m, integer=backend == "reference")
    sources = [tokenize(m, text) for text in inputs]
    outputs = runner.greedy(sources) if beam == 1 else [runner.beam(s, beam) for s in sources]
    for text, out in zip(inputs, outputs):
        click.echo(f"{text}\t{detokenize(m, out)}")


@seq2seq.command("export", short_help="generate C for an encoder-decoder (greedy decoding, no malloc)")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, file_okay=False), required=True, callback=_existing_parent
)
@click.option("--prefix", default="model", show_default=True, help="C identifier prefix of the API.")
@click.option("--target", type=click.Choice(EXPORT_TARGETS), default="host", show_default=True)
@click.option("--max-input-len", type=click.IntRange(1, 65536), default=64, show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["c", "onnx", "tflite"]),
    default="c",
    show_default=True,
    help="c: one C folder with the bridge and greedy decoder; onnx/tflite: the encoder and decoder graphs"
    " (<prefix>_encoder.*, <prefix>_bridge.*, <prefix>_decoder.*) in the folder.",
)
def seq2seq_export(model: Path, output: Path, prefix: str, target: str, max_input_len: int, fmt: str) -> None:
    """Write a C folder (the runtime, both models, the bridge, the API and a self-test), or the
    encoder and decoder as ONNX or TFLite graphs."""
    from edgernn.seq2seq import export_c, load

    m = load(model)
    if fmt != "c":
        from edgernn.seq2seq.export_graphs import export_graphs

        for path in export_graphs(m, output, fmt, prefix):
            click.echo(f"wrote {path}")
        return
    export_c.export(m, output, prefix=prefix, target=target, max_input_len=max_input_len)
    b = export_c.budget(m, target, max_input_len)
    click.echo(f"flash: {b.weight_bytes} bytes of weights; ram: {b.state_struct_bytes} bytes ({prefix}_state_t)")
    click.echo(f"wrote {output}")


def main() -> None:
    cli(prog_name="edgernn")


if __name__ == "__main__":
    sys.exit(main())
