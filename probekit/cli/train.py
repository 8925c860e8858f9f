"""``probekit train RECIPE``: train the tiny V-JEPA 2 reference encoder with the JEPA objective."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

#: Shown under the command's help.
EXAMPLES = (
    'probekit train tiny-vjepa2 --out runs/train',
    'probekit train tiny-vjepa2 --out runs/train --resume',
)


def train(
    recipe: Path = typer.Argument(..., help="Training recipe: a TOML path or a shipped name such as tiny-vjepa2 (extract/tiny-vjepa2.train.toml)."),
    out: Path = typer.Option(Path("runs/train-tiny-vjepa2"), "--out", help="Folder for checkpoint, log and model."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the checkpoint in --out."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Restart even if --out holds a checkpoint."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override optimization.steps."),
    stop_after: Optional[int] = typer.Option(None, "--stop-after", help="Stop with a checkpoint after this many steps."),
    data: Optional[Path] = typer.Option(None, "--data", help="Override data.path (a world file)."),
    monitor_data: Optional[Path] = typer.Option(None, "--monitor-data", help="Override data.monitor_path."),
    ship: bool = typer.Option(False, "--ship", help="Install the result as the package's tiny-vjepa2 weights."),
) -> None:
    """Train the recipe's V-JEPA 2 on probekit worlds and export it as safetensors with a model card."""
    from probekit.cli.options import TrainOptions
    from probekit.formats.ownership import owned_output
    from probekit.training.loop import train as run_training
    from probekit.training.recipe import load_recipe
    from probekit.validation import validate_options

    validate_options(TrainOptions, "train", steps=steps, stop_after=stop_after)

    overrides: dict[str, object] = {}
    if steps is not None:
        overrides["optimization.steps"] = steps
    if data is not None:
        overrides["data.path"] = str(data)
    if monitor_data is not None:
        overrides["data.monitor_path"] = str(monitor_data)
    loaded = load_recipe(recipe, overrides)
    if ship:
        from probekit.encoders.tiny import require_tiny_architecture
        from probekit.training.loop import model_config

        require_tiny_architecture(model_config(loaded.model), "--ship: the recipe's [model]", "drop --ship")
    inputs = [("RECIPE", recipe), ("--data", loaded.data.path), ("--monitor-data", loaded.data.monitor_path)]
    started = time.perf_counter()
    with owned_output(out, inputs, create_parent=True):
        result = run_training(loaded, out, resume=resume, overwrite=overwrite, stop_after=stop_after)
    from probekit.progress import summary_line

    if result is None:
        typer.echo(f"stopped with a checkpoint in {out}; continue with --resume")
        typer.echo(summary_line("train", time.perf_counter() - started, written=[out]), err=True)
        return
    if ship:
        from probekit.training.ship import ship_model

        typer.echo(f"shipped as {ship_model(result.model_dir)}")
    typer.echo(
        f"trained {result.steps} steps, final loss {result.final_loss:.4f}; effective rank trained "
        f"{result.effective_rank_trained:.2f} vs random twin {result.effective_rank_random:.2f}; model in {result.model_dir}"
    )
    typer.echo(summary_line("train", time.perf_counter() - started, count=result.steps, unit="steps", written=[out]), err=True)
