"""``probekit extract [RECIPE] --data ... --out ...``: cache layer-wise latents in a latent store."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Iterator, Optional

import typer

#: Shown under the command's help.
EXAMPLES = (
    'probekit extract tiny-vjepa2 --data worlds.h5 --out latents/tiny.h5',
    'probekit extract tiny-vjepa2 --data worlds.h5 --out latents/twin.h5 --init random',
    'probekit extract --data worlds.h5 --encoder hf:facebook/vjepa2-vitl-fpc64-256 --layers 0,8,16,-1 --out latents/vitl.h5',
)


def extract(
    recipe: Optional[Path] = typer.Argument(None, help="A recipe: a shipped name such as tiny-vjepa2, or a TOML path; flags override it."),
    data: Optional[Path] = typer.Option(None, "--data", help="World file (.h5) or folder of video files."),
    out: Optional[Path] = typer.Option(None, "--out", help="Latent store to write (.h5)."),
    encoder: Optional[str] = typer.Option(None, "--encoder", help="hf:<id or dir>, timm:<name>, py:<package.module>:<factory>, pixels, tiny-vjepa2, an installed entry point, ..."),
    label: Optional[str] = typer.Option(None, "--label", help="The store's display name in tables, figures and the report."),
    init: Optional[str] = typer.Option(None, "--init", help="pretrained or random (same architecture, seeded random weights)."),
    layers: Optional[str] = typer.Option(None, "--layers", help="all, or indices such as 0,4,8 or -1 (0 = embeddings)."),
    pool: Optional[str] = typer.Option(None, "--pool", help="Comma list of mean,time,object,grid,none (grid = tokens pooled to at most 4x4 cells per step; none = full tokens)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float16 (default) or float32."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Clips per batch (and per committed unit)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda or mps."),
    compression: Optional[str] = typer.Option(None, "--compression", help="none, gzip or lzf."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted extraction into --out."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
    shuffle_frames: Optional[int] = typer.Option(None, "--shuffle-frames", help="Seed: temporally shuffled control store."),
    frame_step: Optional[int] = typer.Option(None, "--frame-step", help="Take every n-th frame."),
    window: Optional[int] = typer.Option(None, "--window", help="Frames per clip after --frame-step (videos: window length)."),
    stride: Optional[int] = typer.Option(None, "--stride", help="Videos: sampled frames between window starts."),
    on_bad_video: Optional[str] = typer.Option(None, "--on-bad-video", help="skip (warn) or stop on unreadable videos."),
    trust_remote_code: bool = typer.Option(False, "--trust-remote-code", help="Allow custom model code from the hub."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of random weights (--init random)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads."),
    max_clips: Optional[int] = typer.Option(None, "--max-clips", help="Only the first N clips."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Show a progress bar."),
    surprise: bool = typer.Option(False, "--surprise", help="Also store V-JEPA 2 predictor surprise per sliding window (surprise/ group)."),
    format: Optional[str] = typer.Option(None, "--format", help="Read --data as this source type (intphys2, intphys2019, grasp, inflevel, physion, clevrer, labelled, videos, world); default: detected from the layout."),
    precision: Optional[str] = typer.Option(None, "--precision", help="Autocast of the forward pass: auto (bf16 on CUDA, off elsewhere), bf16, fp16 or fp32."),
) -> None:
    """Run a frozen encoder over clips and store layer-wise latents with aligned labels."""
    from probekit.extraction.recipe import build_config
    from probekit.extraction.run import run_extract

    config = build_config(recipe, {
        "data": data, "out": out, "encoder": encoder, "label": label, "init": init, "layers": layers, "pool": pool, "dtype": dtype,
        "batch_size": batch_size, "device": device, "compression": compression, "resume": resume or None,
        "overwrite": overwrite or None, "shuffle_frames": shuffle_frames, "frame_step": frame_step, "window": window,
        "stride": stride, "on_bad_video": on_bad_video, "trust_remote_code": trust_remote_code or None, "seed": seed,
        "threads": threads, "max_clips": max_clips, "progress": progress, "surprise": surprise or None,
        "format": format,
        "precision": precision,
    })
    started = time.perf_counter()
    with _owned(config):
        path = run_extract(config)
    typer.echo(str(path))
    typer.echo(extract_summary(path, time.perf_counter() - started), err=True)


def extract_summary(path: Path, seconds: float) -> str:
    """The end summary of an extraction: time, rate, the store written, and the weights used."""
    from probekit.progress import summary_line
    from probekit.report.build import WEIGHT_WORDS
    from probekit.store import Store

    with Store(path) as store:
        attrs, n_clips, layers = store.attrs, store.n_clips, store.layers
    text = summary_line("extract", seconds, count=n_clips, unit="clips", written=[path])
    weights = str(attrs.get("weights", ""))
    digest = str(attrs.get("weight_hash", ""))
    digest = f", sha256 {digest[:16]}" if digest and digest != "none" else ""
    return (f"{text}\nextract: store {attrs.get('label', '') or attrs.get('encoder', '?')}: encoder {attrs.get('encoder', '?')} "
            f"with {WEIGHT_WORDS.get(weights, weights)}{digest}; {len(layers)} layer{'s' if len(layers) != 1 else ''}")


@contextlib.contextmanager
def _owned(config) -> Iterator[None]:
    """Own what this process writes: ``--out``, or under torchrun this rank's shard (rank 0 also ``--out``)."""
    from probekit.extraction.run import distributed_rank, shard_path
    from probekit.formats.ownership import owned_output

    inputs = [("--data", config.data), ("RECIPE", config.recipe)]
    rank, world = distributed_rank()
    with contextlib.ExitStack() as stack:
        if world > 1:
            stack.enter_context(owned_output(shard_path(config.out, rank, world), inputs))
        if rank == 0:
            stack.enter_context(owned_output(config.out, inputs))
        yield
