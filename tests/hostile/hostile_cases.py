"""The hostile corpus: mistakes a new user makes, across every command and kind of option or input.

Each case is a command line (with ``{placeholders}`` for shared fixture files and the case's own
folder) and what must happen: ``error`` (exit code 2, exactly one ``error: ...`` line on stderr,
no traceback, the line naming ``expect``) or ``ok`` (exit code 0). :func:`run_case` runs one case
in-process through :func:`probekit.cli.main` (or as a subprocess) and sorts the outcome into one of
:data:`CATEGORIES`; ``tally.py`` prints the counts per category.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

#: The commands of the program.
COMMANDS = ("generate", "info", "extract", "merge", "probe", "train", "evaluate", "report", "demo")
#: Outcome categories, best first.
CATEGORIES = ("handled", "traceback", "wrong exit or accepted", "unclear message", "crash or hang")


@dataclass(frozen=True)
class Case:
    """One hostile command line and its required outcome."""

    id: str
    argv: tuple[str, ...]
    expect: str = ""
    outcome: str = "error"
    files: dict[str, str | bytes] = field(default_factory=dict)
    subprocess: bool = False

    @property
    def command(self) -> str:
        """The probekit command the case exercises (``probekit`` for the program's own options)."""
        return self.argv[0] if self.argv and self.argv[0] in COMMANDS else "probekit"


def E(id: str, *argv: str, expect: str = "", files: dict | None = None, subprocess: bool = False) -> Case:
    """A case that must end in one ``error:`` line and exit code 2."""
    return Case(id, tuple(argv), expect, "error", dict(files or {}), subprocess)


def OK(id: str, *argv: str, files: dict | None = None) -> Case:
    """A case that must succeed."""
    return Case(id, tuple(argv), "", "ok", dict(files or {}))


SUITE_HEAD = '[suite]\ntargets = ["speed"]\nreadouts = ["linear"]\ncontrols = []\nfolds = 2\nn_boot = 10\n'
TRAIN_OK = "[optimization]\nsteps = 10\n"
PROBE = ("probe", "{store}", "--out", "{tmp}/run", "--quiet")
EXTRACT = ("extract", "--data", "{world}", "--out", "{tmp}/s.h5", "--encoder", "pixels", "--no-progress")
GENERATE = ("generate", "--out", "{tmp}/w.h5")

CASES: list[Case] = [
    # -- the program itself ---------------------------------------------------------------------
    E("top-unknown-command", "bogus", expect="No such command"),
    E("top-unknown-option", "--bogus", expect="No such option"),
    E("top-misspelled-command", "generat", expect="generat"),
    OK("top-version", "--version"),
    OK("top-help", "--help"),
    OK("top-command-help", "probe", "--help"),
    # -- generate -------------------------------------------------------------------------------
    E("generate-no-out", "generate", expect="--out"),
    E("generate-out-no-value", "generate", "--out", expect="--out"),
    E("generate-unknown-option", *GENERATE, "--clip", "3", expect="--clip"),
    E("generate-clips-zero", *GENERATE, "--clips", "0", expect="--clips"),
    E("generate-clips-negative", *GENERATE, "--clips", "-1", expect="--clips"),
    E("generate-clips-text", *GENERATE, "--clips", "many", expect="--clips"),
    E("generate-clips-float", *GENERATE, "--clips", "1.5", expect="--clips"),
    E("generate-clips-exponent", *GENERATE, "--clips", "1e11", expect="--clips"),
    E("generate-clips-huge", *GENERATE, "--clips", "100000000000", expect="--clips"),
    E("generate-clips-disk", *GENERATE, "--clips", "1000000", "--frames", "1000", expect="free"),
    E("generate-seed-negative", *GENERATE, "--seed", "-1", expect="--seed"),
    E("generate-seed-huge", *GENERATE, "--seed", "99999999999999999999999", expect="--seed"),
    E("generate-seed-2-64", *GENERATE, "--seed", str(2**64), expect="--seed"),
    E("generate-seed-text", *GENERATE, "--seed", "abc", expect="--seed"),
    E("generate-frames-zero", *GENERATE, "--frames", "0", expect="--frames"),
    E("generate-frames-three", *GENERATE, "--frames", "3", expect="--frames"),
    E("generate-frames-huge", *GENERATE, "--frames", "1000000", expect="--frames"),
    E("generate-frames-violations", *GENERATE, "--frames", "4", "--violations", "gravity", expect="--frames"),
    E("generate-size-zero", *GENERATE, "--size", "0", expect="--size"),
    E("generate-size-small", *GENERATE, "--size", "8", expect="--size"),
    E("generate-size-huge", *GENERATE, "--size", "100000", expect="--size"),
    E("generate-size-memory", *GENERATE, "--size", "4096", "--frames", "10000", expect="memory"),
    E("generate-fps-zero", *GENERATE, "--fps", "0", expect="--fps"),
    E("generate-fps-negative", *GENERATE, "--fps", "-15", expect="--fps"),
    E("generate-fps-inf", *GENERATE, "--fps", "inf", expect="--fps"),
    E("generate-fps-nan", *GENERATE, "--fps", "nan", expect="--fps"),
    E("generate-fps-text", *GENERATE, "--fps", "fast", expect="--fps"),
    E("generate-fps-huge", *GENERATE, "--fps", "1e9", expect="--fps"),
    E("generate-workers-zero", *GENERATE, "--workers", "0", expect="--workers"),
    E("generate-workers-negative", *GENERATE, "--workers", "-2", expect="--workers"),
    E("generate-scenario-unknown", *GENERATE, "--scenarios", "bounce", expect="bounce"),
    E("generate-scenarios-empty", *GENERATE, "--scenarios", ",", expect="--scenarios"),
    E("generate-violation-unknown", *GENERATE, "--violations", "teleport", expect="teleport"),
    E("generate-violation-needs-scenario", *GENERATE, "--scenarios", "roll", "--violations", "gravity", expect="gravity"),
    E("generate-out-missing-folder", "generate", "--out", "{tmp}/no/such/w.h5", expect="does not exist"),
    E("generate-out-is-folder", "generate", "--out", "{tmp}", expect="--out"),
    E("generate-out-exists", "generate", "--out", "{world}", "--clips", "1", expect="exists"),
    OK("generate-tiny", *GENERATE, "--clips", "1", "--frames", "4", "--size", "16", "--scenarios", "drop"),
    # -- info -----------------------------------------------------------------------------------
    E("info-no-path", "info", expect="path"),
    E("info-two-paths", "info", "{world}", "{store}", expect="extra"),
    E("info-missing", "info", "{tmp}/missing.h5", expect="missing.h5"),
    E("info-empty-file", "info", "{tmp}/empty.h5", files={"empty.h5": b""}, expect="empty.h5"),
    E("info-text-file", "info", "{tmp}/notes.h5", files={"notes.h5": "hello\n"}, expect="notes.h5"),
    E("info-foreign-hdf5", "info", "{foreign}", expect="not a probekit file"),
    E("info-truncated-world", "info", "{truncated_world}", expect="truncated"),
    E("info-plain-folder", "info", "{tmp}", expect="{tmp}"),
    E("info-bad-manifest", "info", "{tmp}/run", files={"run/manifest.json": "{not json"}, expect="manifest"),
    OK("info-world", "info", "{world}"),
    OK("info-store", "info", "{store}"),
    OK("info-run", "info", "{run}"),
    # -- extract --------------------------------------------------------------------------------
    E("extract-no-data", "extract", "--out", "{tmp}/s.h5", expect="--data"),
    E("extract-no-out", "extract", "--data", "{world}", expect="--out"),
    E("extract-data-is-out", "extract", "--data", "{world}", "--out", "{world}", "--encoder", "pixels", expect="--data"),
    E("extract-data-is-out-overwrite", "extract", "--data", "{world}", "--out", "{world}", "--encoder", "pixels", "--overwrite", expect="--data"),
    E("extract-data-missing", "extract", "--data", "{tmp}/missing.h5", "--out", "{tmp}/s.h5", "--encoder", "pixels", expect="missing.h5"),
    E("extract-data-is-store", "extract", "--data", "{store}", "--out", "{tmp}/s.h5", "--encoder", "pixels", expect="--data"),
    E("extract-data-text", "extract", "--data", "{tmp}/t.h5", "--out", "{tmp}/s.h5", "--encoder", "pixels", files={"t.h5": "x"}, expect="t.h5"),
    E("extract-data-truncated", "extract", "--data", "{truncated_world}", "--out", "{tmp}/s.h5", "--encoder", "pixels", expect="truncated"),
    E("extract-encoder-unknown", *EXTRACT[:-3], "--encoder", "resnet9000", expect="resnet9000"),
    E("extract-init-unknown", *EXTRACT, "--init", "zeros", expect="--init"),
    E("extract-layers-text", *EXTRACT, "--layers", "first", expect="--layers"),
    E("extract-layers-out-of-range", *EXTRACT, "--layers", "99", expect="99"),
    E("extract-pool-unknown", *EXTRACT, "--pool", "max", expect="max"),
    E("extract-dtype-unknown", *EXTRACT, "--dtype", "float64", expect="--dtype"),
    E("extract-batch-zero", *EXTRACT, "--batch-size", "0", expect="--batch-size"),
    E("extract-batch-negative", *EXTRACT, "--batch-size", "-4", expect="--batch-size"),
    E("extract-batch-text", *EXTRACT, "--batch-size", "big", expect="--batch-size"),
    E("extract-device-unknown", *EXTRACT, "--device", "tpu", expect="--device"),
    E("extract-compression-unknown", *EXTRACT, "--compression", "zstd", expect="--compression"),
    E("extract-resume-and-overwrite", *EXTRACT, "--resume", "--overwrite", expect="--resume"),
    E("extract-resume-nothing", *EXTRACT, "--resume", expect="--resume"),
    E("extract-shuffle-negative", *EXTRACT, "--shuffle-frames", "-1", expect="--shuffle-frames"),
    E("extract-frame-step-zero", *EXTRACT, "--frame-step", "0", expect="--frame-step"),
    E("extract-window-zero", *EXTRACT, "--window", "0", expect="--window"),
    E("extract-stride-negative", *EXTRACT, "--stride", "-1", expect="--stride"),
    E("extract-on-bad-video-unknown", *EXTRACT, "--on-bad-video", "ignore", expect="--on-bad-video"),
    E("extract-seed-negative", *EXTRACT, "--seed", "-1", expect="--seed"),
    E("extract-seed-huge", *EXTRACT, "--seed", "99999999999999999999999", expect="--seed"),
    E("extract-threads-negative", *EXTRACT, "--threads", "-3", expect="--threads"),
    E("extract-threads-zero", *EXTRACT, "--threads", "0", expect="--threads"),
    E("extract-max-clips-zero", *EXTRACT, "--max-clips", "0", expect="--max-clips"),
    E("extract-out-exists", "extract", "--data", "{world}", "--out", "{store}", "--encoder", "pixels", expect="exists"),
    E("extract-out-missing-folder", "extract", "--data", "{world}", "--out", "{tmp}/no/s.h5", "--encoder", "pixels", expect="does not exist"),
    E("extract-out-is-folder", "extract", "--data", "{world}", "--out", "{tmp}", "--encoder", "pixels", expect="--out"),
    E("extract-recipe-missing", "extract", "{tmp}/none.toml", "--data", "{world}", "--out", "{tmp}/s.h5", expect="none.toml"),
    E("extract-recipe-folder", "extract", "{tmp}", "--data", "{world}", "--out", "{tmp}/s.h5", expect="{tmp}"),
    E("extract-recipe-invalid-toml", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": "encoder = \n"}, expect="TOML"),
    E("extract-recipe-not-utf8", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": b"encoder = \"pix\xff\"\n"}, expect="UTF-8"),
    E("extract-recipe-unknown-key", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": 'encoder = "pixels"\nbatchsize = 3\n'}, expect="batch_size"),
    E("extract-recipe-wrong-type", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": 'encoder = "pixels"\nbatch_size = "8"\n'}, expect="batch_size"),
    E("extract-recipe-float-batch", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": 'encoder = "pixels"\nbatch_size = 2.5\n'}, expect="batch_size"),
    E("extract-recipe-bool-seed", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": 'encoder = "pixels"\nseed = true\n'}, expect="seed"),
    E("extract-recipe-trust-remote-code", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": 'encoder = "pixels"\ntrust_remote_code = true\n'}, expect="trust_remote_code"),
    E("extract-recipe-layers-floats", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": 'encoder = "pixels"\nlayers = [1.5]\n'}, expect="layers"),
    E("extract-recipe-negative-batch", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": 'encoder = "pixels"\nbatch_size = -1\n'}, expect="batch_size"),
    E("extract-recipe-dtype", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": 'encoder = "pixels"\ndtype = "half"\n'}, expect="dtype"),
    E("extract-recipe-table-options", "extract", "{tmp}/r.toml", "--data", "{world}", "--out", "{tmp}/s.h5",
      files={"r.toml": 'encoder = "pixels"\nencoder_options = 3\n'}, expect="encoder_options"),
    OK("extract-pixels", *EXTRACT),
    # -- merge ----------------------------------------------------------------------------------
    E("merge-no-shards", "merge", "--out", "{tmp}/m.h5", expect="shards"),
    E("merge-no-out", "merge", "{store}", expect="--out"),
    E("merge-shard-missing", "merge", "{tmp}/none.h5", "--out", "{tmp}/m.h5", expect="none.h5"),
    E("merge-shard-is-world", "merge", "{world}", "--out", "{tmp}/m.h5", expect="{world}"),
    E("merge-shard-truncated", "merge", "{truncated_world}", "--out", "{tmp}/m.h5", expect="truncated"),
    E("merge-duplicate", "merge", "{rank0}", "{rank0}", "--out", "{tmp}/m.h5", expect="twice"),
    E("merge-incomplete-set", "merge", "{rank0}", "--out", "{tmp}/m.h5", expect="rank"),
    E("merge-out-is-shard", "merge", "{rank0}", "--out", "{rank0}", expect="--out"),
    E("merge-out-exists", "merge", "{store}", "--out", "{store2}", expect="--out"),
    E("merge-out-missing-folder", "merge", "{store}", "--out", "{tmp}/no/m.h5", expect="does not exist"),
    E("merge-mixed-extractions", "merge", "{store}", "{store2}", "--out", "{tmp}/m.h5", expect="merge"),
    # -- probe ----------------------------------------------------------------------------------
    E("probe-no-stores", "probe", "--out", "{tmp}/run", expect="stores"),
    E("probe-no-out", "probe", "{store}", expect="--out"),
    E("probe-store-missing", "probe", "{tmp}/none.h5", "--out", "{tmp}/run", expect="none.h5"),
    E("probe-store-is-world", "probe", "{world}", "--out", "{tmp}/run", expect="{world}"),
    E("probe-store-text", "probe", "{tmp}/t.h5", "--out", "{tmp}/run", files={"t.h5": "x"}, expect="t.h5"),
    E("probe-store-corrupted", "probe", "{flipped_store}", "--out", "{tmp}/run", expect="flipped"),
    E("probe-store-twice", "probe", "{store}", "{store}", "--out", "{tmp}/run", expect="store"),
    E("probe-out-is-file", "probe", "{store}", "--out", "{world}", expect="--out"),
    E("probe-out-is-store", "probe", "{store}", "--out", "{store}", expect="--out"),
    E("probe-out-missing-folder", "probe", "{store}", "--out", "{tmp}/no/run", expect="does not exist"),
    E("probe-folds-one", *PROBE, "--folds", "1", expect="--folds"),
    E("probe-folds-zero", *PROBE, "--folds", "0", expect="--folds"),
    E("probe-folds-text", *PROBE, "--folds", "five", expect="--folds"),
    E("probe-seed-negative", *PROBE, "--seed", "-1", expect="--seed"),
    E("probe-seed-huge", *PROBE, "--seed", "99999999999999999999999", expect="--seed"),
    E("probe-n-boot-zero", *PROBE, "--n-boot", "0", expect="--n-boot"),
    E("probe-n-boot-negative", *PROBE, "--n-boot", "-5", expect="--n-boot"),
    E("probe-threads-negative", *PROBE, "--threads", "-3", expect="--threads"),
    E("probe-threads-zero", *PROBE, "--threads", "0", expect="--threads"),
    E("probe-readout-unknown", *PROBE, "--readouts", "svm", expect="svm"),
    E("probe-target-unknown", *PROBE, "--targets", "velocty", expect="velocty"),
    E("probe-targets-empty", *PROBE, "--targets", "", expect="--targets"),
    E("probe-readouts-empty", *PROBE, "--readouts", " , ", expect="--readouts"),
    E("probe-stages-empty", *PROBE, "--stages", "", expect="--stages"),
    E("probe-scheduler-no-port", *PROBE, "--scheduler", "localhost", expect="--scheduler"),
    E("report-umap-target-unknown", "report", "{run}", "--out", "{tmp}/r.html", "--umap-target", "nope", expect="--umap-target"),
    E("probe-stage-unknown", *PROBE, "--stages", "nope", expect="nope"),
    E("probe-attentive-layers-text", *PROBE, "--attentive-layers", "top", expect="--attentive-layers"),
    E("probe-suite-missing", *PROBE, "--suite", "{tmp}/none.toml", expect="none.toml"),
    E("probe-suite-name-unknown", *PROBE, "--suite", "physcs", expect="physcs"),
    E("probe-suite-invalid-toml", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[suite\n"}, expect="TOML"),
    E("probe-suite-not-utf8", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": b"[suite]\nname = \"\xfe\"\n"}, expect="UTF-8"),
    E("probe-suite-unknown-key", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": SUITE_HEAD + "fodls = 3\n"}, expect="folds"),
    E("probe-suite-unknown-table", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": SUITE_HEAD + "[readout.linear]\n"}, expect="readout"),
    E("probe-suite-folds-text", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": '[suite]\nfolds = "five"\n'}, expect="folds"),
    E("probe-suite-folds-one", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[suite]\nfolds = 1\n"}, expect="folds"),
    E("probe-suite-n-boot-zero", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[suite]\nn_boot = 0\n"}, expect="n_boot"),
    E("probe-suite-seed-negative", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[suite]\nseed = -4\n"}, expect="seed"),
    E("probe-suite-targets-string", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": '[suite]\ntargets = "velocity"\n'}, expect="targets"),
    E("probe-suite-target-unknown", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": '[suite]\ntargets = ["velocty"]\n'}, expect="velocity"),
    E("probe-suite-readouts-empty", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[suite]\nreadouts = []\n"}, expect="readouts"),
    E("probe-suite-control-unknown", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": '[suite]\ncontrols = ["shuffle"]\n'}, expect="shuffle"),
    E("probe-suite-binary-string", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": '[suite]\ncontrol_task_binary = "no"\n'}, expect="control_task_binary"),
    E("probe-suite-alphas-negative", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[readouts.linear]\nalphas = [-1, 0]\n"}, expect="alphas"),
    E("probe-suite-alphas-nan", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[readouts.linear]\nalphas = [nan]\n"}, expect="alphas"),
    E("probe-suite-cs-empty", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[readouts.linear]\nCs = []\n"}, expect="Cs"),
    E("probe-suite-mlp-key", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[readouts.mlp]\nhiden = 3\n"}, expect="hidden"),
    E("probe-suite-mlp-type", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": '[readouts.mlp]\nhidden = "big"\n'}, expect="hidden"),
    E("probe-suite-readout-unknown-table", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[readouts.svm]\nC = 1\n"}, expect="svm"),
    E("probe-suite-layers-bad", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": '[suite.layers]\nmlp = "first"\n'}, expect="layers"),
    E("probe-suite-stage-unknown", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": '[suite]\nstages = ["nope"]\n'}, expect="nope"),
    E("probe-suite-stage-table-unknown", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[stages.nope]\nx = 1\n"}, expect="nope"),
    E("probe-other-stores-into-run", "probe", "{store2}", "--out", "{run}", "--quiet", expect="--overwrite"),
    # -- train ----------------------------------------------------------------------------------
    E("train-no-recipe", "train", expect="recipe"),
    E("train-recipe-missing", "train", "{tmp}/none.toml", "--out", "{tmp}/t", expect="none.toml"),
    E("train-recipe-invalid-toml", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[model\n"}, expect="TOML"),
    E("train-recipe-not-utf8", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": b"name = \"\xff\"\n"}, expect="UTF-8"),
    E("train-recipe-unknown-table", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[optimisation]\nsteps = 3\n"}, expect="optimization"),
    E("train-recipe-unknown-key", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[optimization]\nstep = 3\n"}, expect="steps"),
    E("train-recipe-nan", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[objective]\nregularizer_weight = nan\n"}, expect="regularizer_weight"),
    E("train-recipe-lr-inf", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[optimization]\nlr = inf\n"}, expect="lr"),
    E("train-recipe-steps-text", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[optimization]\nsteps = 'many'\n"}, expect="steps"),
    E("train-recipe-steps-zero", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[optimization]\nsteps = 0\n"}, expect="steps"),
    E("train-recipe-seed-negative", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[optimization]\nseed = -1\n"}, expect="seed"),
    E("train-recipe-seed-huge", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[data]\nseed = 99999999999999\n"}, expect="seed"),
    E("train-recipe-masking", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[objective]\nmasking = 'random'\n"}, expect="masking"),
    E("train-recipe-aspect", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "[objective]\naspect_ratio = [1]\n"}, expect="aspect_ratio"),
    E("train-recipe-section-scalar", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "model = 3\n"}, expect="model"),
    E("train-recipe-name-number", "train", "{tmp}/r.toml", "--out", "{tmp}/t", files={"r.toml": "name = 3\n"}, expect="name"),
    E("train-steps-zero", "train", "{tmp}/r.toml", "--out", "{tmp}/t", "--steps", "0", files={"r.toml": TRAIN_OK}, expect="--steps"),
    E("train-steps-negative", "train", "{tmp}/r.toml", "--out", "{tmp}/t", "--steps", "-5", files={"r.toml": TRAIN_OK}, expect="--steps"),
    E("train-stop-after-zero", "train", "{tmp}/r.toml", "--out", "{tmp}/t", "--stop-after", "0", files={"r.toml": TRAIN_OK}, expect="--stop-after"),
    E("train-steps-text", "train", "{tmp}/r.toml", "--out", "{tmp}/t", "--steps", "ten", files={"r.toml": TRAIN_OK}, expect="--steps"),
    E("train-data-is-out", "train", "{tmp}/r.toml", "--out", "{world}", "--data", "{world}", files={"r.toml": TRAIN_OK}, expect="--data"),
    # -- evaluate -------------------------------------------------------------------------------
    E("evaluate-no-out", "evaluate", expect="--out"),
    E("evaluate-clips-zero", "evaluate", "--out", "{tmp}/e", "--clips", "0", expect="--clips"),
    E("evaluate-clips-too-few", "evaluate", "--out", "{tmp}/e", "--clips", "3", expect="--clips"),
    E("evaluate-folds-one", "evaluate", "--out", "{tmp}/e", "--folds", "1", expect="--folds"),
    E("evaluate-n-boot-zero", "evaluate", "--out", "{tmp}/e", "--n-boot", "0", expect="--n-boot"),
    E("evaluate-seed-negative", "evaluate", "--out", "{tmp}/e", "--seed", "-1", expect="--seed"),
    E("evaluate-twin-seed-huge", "evaluate", "--out", "{tmp}/e", "--twin-seed", "99999999999999999999", expect="--twin-seed"),
    E("evaluate-threads-zero", "evaluate", "--out", "{tmp}/e", "--threads", "0", expect="--threads"),
    E("evaluate-weights-missing", "evaluate", "--out", "{tmp}/e", "--weights", "{tmp}/none.safetensors", expect="none.safetensors"),
    E("evaluate-ship-without-weights", "evaluate", "--out", "{tmp}/e", "--ship", expect="--weights"),
    E("evaluate-weights-inside-out", "evaluate", "--out", "{tmp}", "--weights", "{tmp}/m.safetensors",
      files={"m.safetensors": b"x"}, expect="--weights"),
    # -- report ---------------------------------------------------------------------------------
    E("report-no-run", "report", expect="run_dir"),
    E("report-run-missing", "report", "{tmp}/none", "--out", "{tmp}/r.html", expect="none"),
    E("report-run-is-file", "report", "{world}", "--out", "{tmp}/r.html", expect="{world}"),
    E("report-run-no-manifest", "report", "{tmp}", "--out", "{tmp}/r.html", expect="{tmp}"),
    E("report-run-bad-manifest", "report", "{tmp}/run", "--out", "{tmp}/r.html", files={"run/manifest.json": "[1, 2"}, expect="manifest"),
    E("report-min-gain-one", "report", "{run}", "--out", "{tmp}/r.html", "--min-gain", "1", expect="--min-gain"),
    E("report-min-gain-negative", "report", "{run}", "--out", "{tmp}/r.html", "--min-gain", "-0.1", expect="--min-gain"),
    E("report-min-gain-nan", "report", "{run}", "--out", "{tmp}/r.html", "--min-gain", "nan", expect="--min-gain"),
    E("report-min-gain-text", "report", "{run}", "--out", "{tmp}/r.html", "--min-gain", "some", expect="--min-gain"),
    E("report-seed-negative", "report", "{run}", "--out", "{tmp}/r.html", "--seed", "-1", expect="--seed"),
    E("report-out-not-html", "report", "{run}", "--out", "{tmp}/r.pdf", expect="html"),
    E("report-out-exists", "report", "{run}", "--out", "{tmp}/r.html", files={"r.html": "old"}, expect="exists"),
    E("report-out-is-run", "report", "{run}", "--out", "{run}", expect="--out"),
    # -- demo -----------------------------------------------------------------------------------
    E("demo-threads-zero", "demo", "--out", "{tmp}/d", "--threads", "0", expect="--threads"),
    E("demo-threads-text", "demo", "--out", "{tmp}/d", "--threads", "two", expect="--threads"),
    E("demo-seed-negative", "demo", "--out", "{tmp}/d", "--seed", "-1", expect="--seed"),
    E("demo-unknown-option", "demo", "--fast", expect="--fast"),
    # -- a few as real processes (the console script's own path) ---------------------------------
    E("process-usage-error", "generate", "--clips", "x", "--out", "{tmp}/w.h5", expect="--clips", subprocess=True),
    E("process-info-missing", "info", "{tmp}/missing.h5", expect="missing.h5", subprocess=True),
    E("process-extract-input-is-output", "extract", "--data", "{world}", "--out", "{world}", "--overwrite", expect="--data", subprocess=True),
    E("process-probe-n-boot", *PROBE, "--n-boot", "0", expect="--n-boot", subprocess=True),
    E("process-suite-unknown-key", *PROBE, "--suite", "{tmp}/s.toml", files={"s.toml": "[suite]\nseeed = 1\n"}, expect="seed", subprocess=True),
]


# -- fixtures --------------------------------------------------------------------------------------

def build_fixtures(folder: Path) -> dict[str, Path]:
    """The shared small files the cases name (built once per session, never modified by a case)."""
    import h5py
    import numpy as np

    from probekit.evaluation import run_probe
    from probekit.extraction.run import ExtractConfig, run_extract
    from probekit.worlds import generate_world

    folder.mkdir(parents=True, exist_ok=True)
    world = generate_world(folder / "world.h5", clips=6, seed=0, frames=8, size=32, progress=False)
    store = folder / "store.h5"
    run_extract(ExtractConfig(data=str(world), out=str(store), encoder="pixels", dtype="float32", device="cpu", progress=False))
    store2 = folder / "store2.h5"
    run_extract(ExtractConfig(data=str(world), out=str(store2), encoder="pixels", dtype="float16", device="cpu", progress=False))
    suite = folder / "suite.toml"
    suite.write_text(SUITE_HEAD)
    run = folder / "run"
    run_probe([store], run, suite=str(suite), folds=2, n_boot=10)
    foreign = folder / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = [1, 2, 3]
    truncated = folder / "truncated_world.h5"
    data = world.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    flipped = folder / "flipped_store.h5"
    raw = bytearray(store.read_bytes())
    for offset in range(0, 512, 7):  # the superblock and root group header: not an HDF5 file any more
        raw[offset] ^= 0xFF
    flipped.write_bytes(bytes(raw))
    rank0 = folder / "store.rank0-of2.h5"
    shutil.copyfile(store, rank0)
    with h5py.File(rank0, "r+") as f:
        f.attrs["rank"], f.attrs["world_size"] = np.int64(0), np.int64(2)
    return {"world": world, "store": store, "store2": store2, "run": run, "foreign": foreign,
            "truncated_world": truncated, "flipped_store": flipped, "rank0": rank0}


# -- running one case ------------------------------------------------------------------------------

def expand(case: Case, fixtures: dict[str, Path], tmp: Path) -> tuple[list[str], str]:
    """The case's argv and expected text with placeholders filled in; its own files written."""
    names = {**{k: str(v) for k, v in fixtures.items()}, "tmp": str(tmp)}
    for name, content in case.files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return [a.format(**names) for a in case.argv], case.expect.format(**names)


def classify(case: Case, code: int | None, stderr: str, expect: str, escaped: str = "") -> str:
    """Sort an outcome into one of :data:`CATEGORIES`."""
    if code is None:
        return "crash or hang"
    if escaped or "Traceback (most recent call last)" in stderr:
        return "traceback"
    if case.outcome == "ok":
        return "handled" if code == 0 else ("unclear message" if code == 2 else "wrong exit or accepted")
    if code != 2:
        return "crash or hang" if code < 0 or code > 128 else "wrong exit or accepted"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    if len(errors) == 1 and len(lines) == 1 and (not expect or expect in errors[0]):
        return "handled"
    return "unclear message"


def run_in_process(argv: list[str]) -> tuple[int, str, str]:
    """Run ``probekit.cli.main(argv)``; returns (exit code, stderr, escaped traceback or "")."""
    from probekit.cli import main

    err, out = io.StringIO(), io.StringIO()
    code, escaped = 0, ""
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # anything else escaping main() is a traceback for the user
            code, escaped = 1, traceback.format_exc()
    return code, err.getvalue(), escaped


def run_subprocess(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 120,
                   preexec: Callable[[], None] | None = None) -> tuple[int | None, str]:
    """Run ``python -m probekit ARGV``; a timeout gives exit code None."""
    try:
        result = subprocess.run([sys.executable, "-m", "probekit", *argv], capture_output=True, text=True, env=env,
                                cwd=cwd, timeout=timeout, preexec_fn=preexec)
    except subprocess.TimeoutExpired:
        return None, ""
    return result.returncode, result.stderr


def subprocess_env(tree: Path) -> dict[str, str]:
    """Environment that imports probekit from ``tree``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
