"""``probekit evaluate``: a trained tiny V-JEPA 2 against its random twin and pixels on held-out worlds."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

#: Shown under the command's help.
EXAMPLES = (
    'probekit evaluate --weights runs/train/model --out runs/eval',
)


def evaluate(
    out: Path = typer.Option(..., "--out", help="Folder for held-out worlds, stores, probe run, report and evaluation.json."),
    weights: Optional[Path] = typer.Option(
        None, "--weights", help="Trained model.safetensors or the model/ folder of a `probekit train` run (default: the shipped weights)."
    ),
    clips: int = typer.Option(256, "--clips", help="Held-out families to generate."),
    seed: int = typer.Option(3000, "--seed", help="Seed of the held-out worlds (not the recipe's training or monitor seed)."),
    twin_seed: Optional[int] = typer.Option(
        None, "--twin-seed", help="Seed of the random twin (default: the training recipe's optimization.seed, from recipe.json beside the weights; else 0)."
    ),
    folds: int = typer.Option(5, "--folds", help="Outer folds, grouped by family."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap replicates for the intervals."),
    threads: int = typer.Option(2, "--threads", help="CPU threads for extraction and probing."),
    voe_clips: int = typer.Option(
        180, "--voe-clips", help="Families of the violation-of-expectation set whose surprise is scored per principle (a third of them per "
        "scenario: 180 = 60 pairs per principle); 0 skips it."
    ),
    ship: bool = typer.Option(False, "--ship", help="Then install the weights (with the evaluation in their model card) as tiny-vjepa2's default."),
) -> None:
    """Check a trained tiny V-JEPA 2: no collapse (effective rank vs its random twin) and probe gains.

    Writes evaluation.json and evaluation.md: selected layers, scores, paired bootstrap deltas, whether the trained model beat its random twin on object-token velocity and contact, and the surprise per physical principle on a violation-of-expectation set.
    """
    from probekit.cli.options import EvaluateOptions
    from probekit.errors import BadOptionError
    from probekit.formats.ownership import owned_output
    from probekit.training.evaluate import evaluate_reference
    from probekit.progress import echo
    from probekit.validation import validate_options

    validate_options(EvaluateOptions, "evaluate", clips=clips, seed=seed, twin_seed=twin_seed, folds=folds, n_boot=n_boot,
                     threads=threads, voe_clips=voe_clips)
    if ship and weights is None:
        raise BadOptionError("--ship: give --weights (the model/ folder of a probekit train run) to ship")
    if ship:
        from probekit.training.ship import check_architecture_ships

        check_architecture_ships(weights if weights.is_dir() else weights.parent)
    with owned_output(out, [("--weights", weights)], create_parent=True):
        result = evaluate_reference(out, weights=weights, clips=clips, seed=seed, twin_seed=twin_seed, folds=folds,
                                    n_boot=n_boot, threads=threads, voe_clips=voe_clips, log=echo)
        typer.echo(Path(out, "evaluation.md").read_text(encoding="utf-8"))
        if ship:
            from probekit.training.ship import ship_model

            model_dir = weights if weights.is_dir() else weights.parent
            typer.echo(f"shipped as {ship_model(model_dir, evaluation=Path(out))}")
    if result.report is not None:
        typer.echo(f"report: {result.report.resolve()}")
