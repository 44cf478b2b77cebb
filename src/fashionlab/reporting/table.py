"""runs.csv: every planned job of a sweep as one row of plain values, for pandas.read_csv or a spreadsheet: job,
status, configuration, each varying override, seed and split seed, best val acc and its epoch (counted as summary.json
counts them), test acc and loss where the report evaluated them, wall time and platform. An empty cell: not known (a
run that never finished an epoch, a run the report did not test, a planned job that has not started)."""

import csv
import json
import math
from pathlib import Path

from omegaconf import OmegaConf

from fashionlab.overrides import REPLICATE_KEYS, configuration_overrides, override_values
from fashionlab.sweepfolder import job_order
from fashionlab.reporting.selection import varying_overrides
from fashionlab.reporting.sweep import NOT_STARTED, ReportedSweep

FILE = "runs.csv"
TEST_METRICS = "test_metrics.json"  # the report's record of the tested replicates (fashionlab.reporting.report)


def cell(value):
    """None and NaN as an empty cell; numbers as Python writes them (floats exactly, in the fewest digits)."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else value


def write_runs_table(sweep: Path, reported: ReportedSweep) -> Path:
    """Write `<sweep>/runs.csv`, jobs in number order; the test numbers come from the report's test_metrics.json."""
    runs, selection = reported.runs, reported.selection
    varying = [key for key in varying_overrides(runs) if key not in REPLICATE_KEYS]
    label = {run.name: configuration.label for configuration in selection.configurations for run in configuration.runs}
    by_overrides = {frozenset(configuration.overrides): configuration.label for configuration in selection.configurations}
    tested = {replicate["job"]: replicate for replicate in json.loads((sweep / TEST_METRICS).read_text())["replicates"]
              } if selection.selected else {}
    platform = list(dict.fromkeys(key for run in runs for key in run.platform or {}))
    columns = ["job", "status", "configuration", *varying, "seed", "split_seed", "best_val_acc", "best_epoch",
               "test_acc", "test_loss", "wall_seconds", *(f"platform.{key}" for key in platform)]
    rows = []
    for run in runs:
        test = tested.get(run.name, {})
        best_epoch = None if run.best_index is None else int(run.history["epoch"][run.best_index])
        rows.append((run.name, [
            run.name, run.status, label[run.name], *(run.override_values.get(key) for key in varying), run.seed,
            OmegaConf.select(run.config, "data.split_seed"), run.best_val_acc, best_epoch, test.get("test/acc"),
            test.get("test/loss"), run.wall_seconds, *((run.platform or {}).get(key) for key in platform)]))
    for number, overrides in reported.not_started:
        values = override_values(overrides)
        rows.append((number, [number, NOT_STARTED, by_overrides.get(frozenset(configuration_overrides(overrides))),
                              *(values.get(key) for key in varying), values.get("seed"), values.get("data.split_seed"),
                              *[None] * (5 + len(platform))]))
    with open(sweep / FILE, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(map(cell, row) for _, row in sorted(rows, key=lambda item: job_order(item[0])))
    return sweep / FILE
