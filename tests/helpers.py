"""What several test modules share (tests import helpers from here or conftest, never from each other): running an
entry point as a user does, reading metrics.csv and runs.csv back, what TensorBoard shows of a run, and the search space
that forces a search's outcome."""

import csv
import re
import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.custom_scalar import metadata as custom_scalars_metadata
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

from conftest import ROOT
from fashionlab.runfolder import read_summary


def run_cli(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, f"src/{script}", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def read_rows(run: Path) -> list[dict]:
    """metrics.csv without the wall-clock column, which differs between identical runs."""
    with open(run / "metrics.csv") as file:
        return [{k: v for k, v in row.items() if k != "elapsed_s"} for row in csv.DictReader(file)]


def read_metrics(run: Path) -> list[dict[str, float]]:
    with open(run / "metrics.csv") as file:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]


def runs_csv(sweep: Path) -> dict[str, dict]:
    """The sweep's runs.csv by job, every value parsed back to its type with the csv module (an empty cell: None) and
    checked against the job's summary.json: what the summary holds, the row holds, as the same type."""
    with open(sweep / "runs.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    parsed = {}
    for row in rows:
        values = {key: None if text == "" else RUNS_CSV_TYPES.get(key, str)(text) for key, text in row.items()}
        summary = read_summary(sweep / row["job"]) or {}
        held = {key: summary[key] for key in ("status", "best_val_acc", "best_epoch", "wall_seconds")
                if summary.get(key) is not None}
        held |= {f"platform.{key}": value for key, value in summary.get("platform", {}).items()}
        assert {key: (values[key], type(values[key])) for key in held} == {
            key: (value, type(value)) for key, value in held.items()}, f"job {row['job']}"
        parsed[row["job"]] = values
    return parsed


RUNS_CSV_TYPES = {"job": int, "seed": int, "split_seed": int, "best_epoch": int, "best_val_acc": float,
                  "test_acc": float, "test_loss": float, "wall_seconds": float}  # the other columns are text


def custom_scalars(multiplexer: EventMultiplexer, run: str) -> dict[str, set[str]]:
    """The run's scalar tags that each chart of its CUSTOM SCALARS layout draws (the layout holds regexes)."""
    (event,) = multiplexer.Tensors(run, custom_scalars_metadata.CONFIG_SUMMARY_TAG)
    layout = layout_pb2.Layout.FromString(tensor_util.make_ndarray(event.tensor_proto).item())
    tags = multiplexer.GetAccumulator(run).Tags()["scalars"]
    return {chart.title: {tag for tag in tags for pattern in chart.multiline.tag if re.search(pattern, tag)}
            for category in layout.category for chart in category.chart}


def hparams_of(multiplexer: EventMultiplexer, run: str) -> dict:
    """The run's HPARAMS values, as the hparams plugin reads them. The run writes no experiment summary: TensorBoard
    then shows the union of every run's keys, and the runs' scalars as metrics."""
    contents = multiplexer.PluginRunToTagToContent(hparams_metadata.PLUGIN_NAME)[run]
    assert hparams_metadata.EXPERIMENT_TAG not in contents, "an experiment of one run would hide the others' keys"
    start = plugin_data_pb2.HParamsPluginData.FromString(contents[hparams_metadata.SESSION_START_INFO_TAG])
    return {key: getattr(value, value.WhichOneof("kind")) for key, value in start.session_start_info.hparams.items()}


def tensorboard_runs(logdir: Path) -> EventMultiplexer:
    """The runs under `logdir` as `tensorboard --logdir` names them: by their folder below it."""
    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    return multiplexer.Reload()


CORE = {"optimizer", "lr", "scheduler", "batch_size", "hidden_sizes", "seed"}


# Adam at lr 0.3 reaches its best val acc on the tiny data in epoch 1 and falls back in epoch 2; at 1e-7 it stays at its
# initial accuracy: forced behind. With this seed the sampler's random start draws the good rate for trials 0-2 and the
# hopeless one for trial 3.
FORCED = ["hydra.sweeper.params=null", "optimizer=adam", "optimizer.lr=choice(0.3,1e-7)",
          "hydra.sweeper.sampler.seed=2", "callbacks.pruning.pruner.n_startup_trials=1",
          "callbacks.pruning.pruner.n_warmup_steps=0"]
