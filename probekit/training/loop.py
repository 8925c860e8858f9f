"""The training loop of ``probekit train``: JEPA on probekit worlds, resumable, logged."""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import VJEPA2Config, VJEPA2Model, VJEPA2VideoProcessor

from probekit.errors import BadOptionError, FileFormatError
from probekit.formats.atomic import atomic_write
from probekit.h5io import open_checked
from probekit.training.checkpoint import CHECKPOINT_STATE, load_checkpoint, save_checkpoint
from probekit.training.masks import batch_indices, future_mask, multiblock_mask
from probekit.training.monitor import effective_rank
from probekit.training.objective import JEPAObjective
from probekit.training.recipe import ModelSection, TrainRecipe

LOG_NAME = "training_log.jsonl"

#: The recipe a model folder was trained with (JSON), written beside its weights.
RECIPE_NAME = "recipe.json"


@dataclass
class TrainResult:
    """What a finished (or resumed-to-finish) training run produced."""

    out_dir: Path
    model_dir: Path
    steps: int
    final_loss: float
    effective_rank_trained: float
    effective_rank_random: float


def model_config(section: ModelSection) -> VJEPA2Config:
    """The transformers ``VJEPA2Config`` of a recipe's [model] table."""
    return VJEPA2Config(**{k: v for k, v in vars(section).items()})


def video_processor(section: ModelSection) -> VJEPA2VideoProcessor:
    """V-JEPA 2's own video processor at the recipe's crop size, without up-scaling first.

    The same preprocessing as the ``tiny-vjepa2`` encoder adapter: frames of the crop size pass
    through unchanged apart from rescaling and ImageNet normalisation.
    """
    processor = VJEPA2VideoProcessor(crop_size={"height": section.crop_size, "width": section.crop_size})
    processor.size = {"shortest_edge": section.crop_size}
    return processor


def load_videos(
    path: str | Path, processor: VJEPA2VideoProcessor, limit: int | None = None, *, frames: int | None = None, what: str = "data.path"
) -> torch.Tensor:
    """Read a world file's videos and preprocess them once: (N, T, C, H, W) float16.

    ``frames``, when given, is the clip length the model needs; a file of other clips, or of fewer
    than 2 clips, is refused (naming the recipe key ``what``) before anything is preprocessed.
    """
    with open_checked(path, "world") as f:
        rgb = f["video/rgb"]
        if frames is not None and rgb.shape[1] != frames:
            raise BadOptionError(f"recipe {what} {path}: clips of {rgb.shape[1]} frames, but model.frames_per_clip is "
                                 f"{frames}; generate worlds with --frames {frames}")
        if rgb.shape[0] < 2:
            raise BadOptionError(f"recipe {what} {path}: {rgb.shape[0]} clip(s); give a world file with at least 2")
        n = rgb.shape[0] if limit is None else min(limit, rgb.shape[0])
        chunks = []
        for start in range(0, n, 64):
            videos = rgb[start : min(n, start + 64)]
            pixels = processor(list(videos), return_tensors="pt")["pixel_values_videos"]
            chunks.append(pixels.to(torch.float16))
    return torch.cat(chunks)


def ensure_worlds(recipe: TrainRecipe) -> None:
    """Generate the recipe's training and monitor world files when they do not exist yet."""
    from probekit.worlds import generate_world

    data = recipe.data
    worlds = ((data.path, data.clips, data.seed), (data.monitor_path, data.monitor_clips, data.monitor_seed))
    for path, what in ((data.path, "data.path"), (data.monitor_path, "data.monitor_path")):
        if Path(path).exists():  # a given file that is no world file is refused before any world is generated
            try:
                open_checked(path, "world").close()
            except FileFormatError as exc:
                raise BadOptionError(f"recipe {what}: {exc}") from None
    for path, clips, seed in worlds:
        if Path(path).exists():
            continue
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        generate_world(
            path, clips=clips, seed=seed, scenarios=data.scenarios, frames=data.frames, size=data.size, workers=1
        )


def cosine_lr(step: int, recipe: TrainRecipe) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``min_lr``."""
    opt = recipe.optimization
    if step < opt.warmup_steps:
        return opt.lr * (step + 1) / opt.warmup_steps
    progress = (step - opt.warmup_steps) / max(1, opt.steps - opt.warmup_steps)
    return opt.min_lr + 0.5 * (opt.lr - opt.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def ema_momentum(step: int, recipe: TrainRecipe) -> float:
    """EMA momentum, linear from ``ema_start`` to ``ema_end`` over training."""
    obj = recipe.objective
    return obj.ema_start + (obj.ema_end - obj.ema_start) * min(1.0, step / max(1, recipe.optimization.steps))


def sample_target_masks(recipe: TrainRecipe, batch: int, step: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Target masks for one batch; multi-block alternates short-range and long-range blocks by step."""
    m, obj = recipe.model, recipe.objective
    grid = (m.frames_per_clip // m.tubelet_size, m.crop_size // m.patch_size, m.crop_size // m.patch_size)
    if obj.masking == "future":
        return [future_mask(grid, context_steps=obj.future_context_steps)] * batch
    blocks, scale = (obj.short_blocks, obj.short_scale) if step % 2 == 0 else (obj.long_blocks, obj.long_scale)
    return [
        multiblock_mask(grid, n_blocks=blocks, scale=scale, aspect_ratio=obj.aspect_ratio, generator=generator)
        for _ in range(batch)
    ]


@torch.no_grad()
def pooled_latents(encoder: torch.nn.Module, videos: torch.Tensor, batch_size: int = 16) -> np.ndarray:
    """Mean-pooled last-layer latents of ``encoder`` over ``videos``: (N, D)."""
    was_training = encoder.training
    encoder.eval()
    outs = [
        encoder(pixel_values_videos=videos[i : i + batch_size].float()).last_hidden_state.mean(dim=1)
        for i in range(0, len(videos), batch_size)
    ]
    encoder.train(was_training)
    return torch.cat(outs).numpy()


def train(
    recipe: TrainRecipe,
    out_dir: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainResult | None:
    """Train the recipe's V-JEPA 2 with the JEPA objective and export it.

    Parameters
    ----------
    recipe
        A validated :class:`TrainRecipe`.
    out_dir
        Folder for the checkpoint, the log and the exported model (``out_dir/model``).
    resume
        Continue from the checkpoint in ``out_dir``.
    overwrite
        Start afresh even if ``out_dir`` holds a checkpoint.
    progress
        Show a progress bar.
    stop_after
        Stop (with a checkpoint) once this many steps are done in total, before the recipe's
        end; ``--resume`` continues. For time-boxed sessions and tests.

    Returns
    -------
    TrainResult or None
        Paths and headline numbers (final loss, effective ranks of trained and random twin);
        None when stopped early by ``stop_after``.
    """
    recipe.validate()
    out_dir = Path(out_dir)
    has_checkpoint = (out_dir / CHECKPOINT_STATE).exists()
    if has_checkpoint and not (resume or overwrite):
        raise BadOptionError(f"--out {out_dir}: holds a training checkpoint; pass --resume to continue or --overwrite to restart")
    if resume and not has_checkpoint:
        raise BadOptionError(f"--resume: {out_dir} holds no checkpoint to resume; drop --resume to start a new run")
    out_dir.mkdir(parents=True, exist_ok=True)
    opt = recipe.optimization
    torch.set_num_threads(opt.threads)
    torch.manual_seed(opt.seed)

    config = model_config(recipe.model)
    model = VJEPA2Model(config)
    random_twin_state = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    objective = JEPAObjective(model, regularizer_weight=recipe.objective.regularizer_weight)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=opt.lr, weight_decay=opt.weight_decay)
    generator = torch.Generator().manual_seed(opt.seed)

    processor = video_processor(recipe.model)
    ensure_worlds(recipe)
    frames = recipe.model.frames_per_clip
    videos = load_videos(recipe.data.path, processor, frames=frames)
    monitor = load_videos(recipe.data.monitor_path, processor, limit=recipe.data.monitor_clips, frames=frames, what="data.monitor_path")

    step = 0
    log_path = out_dir / LOG_NAME
    if resume:
        state = load_checkpoint(out_dir, objective=objective, optimizer=optimizer, generator=generator)
        step = int(state["step"])
        if state.get("recipe") != json.loads(json.dumps(recipe.to_dict())):
            raise BadOptionError(f"--resume: the recipe differs from the one {out_dir} was trained with; use the same recipe")
        # drop log lines written after the checkpoint, so the log matches an uninterrupted run
        if log_path.exists():
            kept = [line for line in log_path.read_text().splitlines() if json.loads(line)["step"] <= step]
            atomic_write(log_path, "".join(line + "\n" for line in kept))
    elif log_path.exists():
        log_path.unlink()

    def log(entry: dict[str, Any]) -> None:
        with log_path.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")

    random_rank = effective_rank(_random_twin_latents(config, random_twin_state, monitor))
    if step == 0:
        log({"step": 0, "effective_rank_target": effective_rank(pooled_latents(objective.target_encoder, monitor))})

    started = time.perf_counter()
    from probekit.progress import progress as progress_bar

    bar = progress_bar(total=opt.steps, initial=step, enabled=progress, desc="train", unit="step")
    last_loss = float("nan")
    model.train()
    end = opt.steps if stop_after is None else min(opt.steps, stop_after)
    while step < end:
        index = torch.randint(0, len(videos), (opt.batch_size,), generator=generator)
        pixels = videos[index].float()
        context, target = batch_indices(sample_target_masks(recipe, opt.batch_size, step, generator), generator)
        lr = cosine_lr(step, recipe)
        for group in optimizer.param_groups:
            group["lr"] = lr
        out = objective(pixels, context, target)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        if opt.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(parameters, opt.grad_clip)
        optimizer.step()
        momentum = ema_momentum(step, recipe)
        objective.update_target(momentum)
        step += 1
        last_loss = float(out["loss"].detach())
        bar.update(1)
        bar.set_postfix(loss=f"{last_loss:.4f}", refresh=False)
        if step % opt.log_every == 0 or step == opt.steps:
            log(
                {
                    "step": step,
                    "loss": last_loss,
                    "prediction_loss": float(out["prediction_loss"]),
                    "regularizer": float(out["regularizer"]),
                    "lr": lr,
                    "ema_momentum": momentum,
                    "seconds": time.perf_counter() - started,
                }
            )
        if step % opt.monitor_every == 0 or step == opt.steps:
            log({"step": step, "effective_rank_target": effective_rank(pooled_latents(objective.target_encoder, monitor))})
        if step % opt.checkpoint_every == 0 or step == end:
            save_checkpoint(
                out_dir,
                objective=objective,
                optimizer=optimizer,
                generator=generator,
                state={"step": step, "recipe": recipe.to_dict()},
            )
    bar.close()
    if step < opt.steps:
        return None

    trained_rank = effective_rank(pooled_latents(objective.target_encoder, monitor))
    model_dir = export_pretrained(objective, recipe, out_dir / "model", processor=processor)
    write_model_card(model_dir, recipe, log_path, trained_rank=trained_rank, random_rank=random_rank)
    return TrainResult(out_dir, model_dir, step, last_loss, trained_rank, random_rank)


def _random_twin_latents(config: VJEPA2Config, state: dict[str, torch.Tensor], monitor: torch.Tensor) -> np.ndarray:
    twin = VJEPA2Model(config).encoder
    twin.load_state_dict(state)
    return pooled_latents(twin, monitor)


def export_pretrained(
    objective: JEPAObjective, recipe: TrainRecipe, model_dir: Path, *, processor: VJEPA2VideoProcessor
) -> Path:
    """Save the EMA target encoder (and the predictor) as a transformers V-JEPA 2 folder (safetensors)."""
    model = VJEPA2Model(objective.model.config)
    model.encoder.load_state_dict(objective.target_encoder.state_dict())
    model.predictor.load_state_dict(objective.model.predictor.state_dict())
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # its carriage-return bar would cut into probekit's own progress lines
    try:
        model.save_pretrained(model_dir, safe_serialization=True)
    finally:
        if shown:
            hf_logging.enable_progress_bar()
    processor.save_pretrained(model_dir)
    atomic_write(model_dir / RECIPE_NAME, json.dumps(recipe.to_dict(), indent=1) + "\n")
    return model_dir


def training_seed(model_dir: str | Path, default: int = 0) -> int:
    """``optimization.seed`` of the recipe a ``probekit train`` export was trained with (``default`` when unknown).

    That seed gives, through :func:`probekit.encoders.tiny.build_tiny_vjepa2`, the exact weights the
    training started from: the model's random twin.
    """
    path = Path(model_dir) / RECIPE_NAME
    if not path.is_file():
        return default
    try:
        return int(json.loads(path.read_text())["optimization"]["seed"])
    except (ValueError, KeyError, TypeError):
        raise BadOptionError(f"{path}: not a probekit training recipe; remove it or re-export the model") from None


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_model_card(model_dir: Path, recipe: TrainRecipe, log_path: Path, *, trained_rank: float, random_rank: float) -> None:
    """A short model card: recipe, seed, data, training curve summary, effective ranks, hash."""
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    losses = [e for e in entries if "loss" in e]
    ranks = [e for e in entries if "effective_rank_target" in e]
    atomic_write(model_dir / LOG_NAME, log_path.read_text())
    weights = model_dir / "model.safetensors"
    lines = [
        f"# {recipe.name}: a tiny V-JEPA 2 trained by probekit",
        "",
        "transformers `VJEPA2Model` (encoder = EMA target encoder, plus the predictor) trained with the",
        "V-JEPA 2 objective (masked latent prediction, L1 on layer-normed EMA target latents) on",
        "probekit's physics worlds. Load it with `probekit.encoders.create_encoder(\"tiny-vjepa2\")`.",
        "",
        f"- weights: `model.safetensors`, sha256 `{file_sha256(weights)}`, {weights.stat().st_size / 2**20:.1f} MiB",
        f"- seed: {recipe.optimization.seed}; steps: {recipe.optimization.steps}; batch: {recipe.optimization.batch_size}",
        f"- data: {recipe.data.clips} clips (seed {recipe.data.seed}, scenarios {recipe.data.scenarios}, "
        f"{recipe.data.frames} frames at {recipe.data.size} px); monitor: {recipe.data.monitor_clips} held-out clips "
        f"(seed {recipe.data.monitor_seed})",
        f"- objective: masking {recipe.objective.masking}, regulariser weight {recipe.objective.regularizer_weight}, "
        f"predictor depth {recipe.model.pred_num_hidden_layers}",
        f"- effective rank of pooled last-layer latents on the held-out clips: trained {trained_rank:.2f}, "
        f"random twin {random_rank:.2f} (ratio {trained_rank / max(random_rank, 1e-9):.2f})",
        "",
        "## Training curve",
        "",
        "Loss = prediction loss (L1) + regulariser weight x regulariser; each row is the mean of the logged",
        "batches since the previous row (the log has one batch every `log_every` steps).",
        "",
        "| steps | loss | prediction loss | regulariser | lr at end | seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for chunk in np.array_split(np.arange(len(losses)), min(12, len(losses))) if losses else []:
        group = [losses[i] for i in chunk]
        mean = {key: float(np.mean([e.get(key, np.nan) for e in group])) for key in ("loss", "prediction_loss", "regularizer")}
        lines.append(
            f"| {group[0]['step']}-{group[-1]['step']} | {mean['loss']:.4f} | {mean['prediction_loss']:.4f} | "
            f"{mean['regularizer']:.4f} | {group[-1].get('lr', float('nan')):.2e} | {group[-1]['seconds']:.0f} |"
        )
    lines += ["", "| step | effective rank (target encoder) |", "|---:|---:|"]
    lines += [f"| {e['step']} | {e['effective_rank_target']:.2f} |" for e in ranks]
    lines += ["", "## Recipe", "", "```json", json.dumps(recipe.to_dict(), indent=1), "```", ""]
    atomic_write(model_dir / "README.md", "\n".join(lines))
