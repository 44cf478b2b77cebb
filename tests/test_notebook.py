"""The lab from Python: fashionlab's API in this process, and notebooks/exercise2.ipynb executed top to bottom in a
real Jupyter kernel (nbclient, with the dev extra's ipykernel) on the tiny data, one epoch per optimizer.

The notebook's sweep, SGD against Adam, is also where the suite checks what a sweep writes: a run folder per job, and
what TensorBoard shows of them (one kernel's Lightning import instead of one more command line's)."""

import ast
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import CORE, custom_scalars, hparams_of, run_cli, tensorboard_runs
from conftest import ROOT, tiny_overrides
import fashionlab
from fashionlab import compose, evaluate_checkpoint, load_sweep, sweep, train
from fashionlab.config import ConfigError
from fashionlab.reporting.runs import ReportError
from fashionlab.runfolder import read_summary

NOTEBOOK = ROOT / "notebooks" / "exercise2.ipynb"


def test_the_api_refuses_as_the_command_line_trains_a_run_into_its_folder_and_loads_only_sweeps(tiny_data_dir,
                                                                                                 tmp_path):
    with pytest.raises(ConfigError) as refused:
        compose("optimizer.lr=-1")
    printed = run_cli("train.py", "optimizer.lr=-1", f"hydra.run.dir={tmp_path}/cli")
    assert printed.stderr.strip().splitlines() == [f"error: {refused.value}"], "the command line's one line"
    with pytest.raises(ConfigError, match=r"^optimizer\.lr=-1: not allowed"):  # a grid's second job, before the first
        sweep("optimizer.lr=0.1,-1", f"hydra.sweep.dir={tmp_path}/sweep")
    assert not (tmp_path / "cli").exists() and not (tmp_path / "sweep").exists()
    cfg = compose("optimizer=adam")
    assert (cfg.optimizer._target_, cfg.choices.optimizer) == ("torch.optim.Adam", "adam")

    here = Path.cwd()
    run = train(*tiny_overrides(tiny_data_dir), "optimizer=adam", f"hydra.run.dir={tmp_path}/run")
    assert Path.cwd() == here, "the call ran in the lab's folder and came back"
    assert run.path == tmp_path / "run" and run.status == read_summary(run.path)["status"] == "completed"
    assert run.history["epoch"] == [1.0] and run.best_val_acc == read_summary(run.path)["best_val_acc"]
    assert run.checkpoint.is_file() and "optimizer=adam" in run.overrides, "Hydra's record in <run>/.hydra/"

    with pytest.raises(ReportError, match="is not a sweep folder: no multirun.yaml"):
        load_sweep(tmp_path)


def test_the_notebook_uses_only_the_public_api():
    """Its code imports the lab only as `from fashionlab import <names of fashionlab.__all__>`, reads no private name
    and leaves the working directory alone (the API runs in the lab's folder by itself)."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(line for cell in notebook.cells if cell.cell_type == "code" for line in cell.source.splitlines()
                     if not line.startswith("%"))  # IPython magics
    tree = ast.parse(code)
    lab = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module.startswith("fashionlab")]
    assert [node.module for node in lab] == ["fashionlab"]
    assert {alias.name for node in lab for alias in node.names} <= set(fashionlab.__all__)
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Import)
                and any(alias.name.startswith("fashionlab") for alias in node.names)]
    assert not [node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr.startswith("_")]
    assert "chdir" not in code


@pytest.fixture(scope="module")
def executed(tiny_data_dir, tmp_path_factory) -> tuple[nbformat.NotebookNode, object]:
    """The notebook after a run with its parameter cell set to the tiny data, one epoch and a sweep folder of the
    test's own; and that folder. nbclient raises at the first cell that raises."""
    folder = tmp_path_factory.mktemp("notebook") / "sweep"
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    overrides = [o for o in tiny_overrides(tiny_data_dir) if o != "trainer.enable_progress_bar=false"]
    parameters = next(cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", []))
    parameters.source = f"EPOCHS = 1\nOVERRIDES = {[*overrides, f'hydra.sweep.dir={folder}']!r}"
    # python3: ipykernel's kernel, run by this interpreter (jupyter_client starts `python` as sys.executable)
    NotebookClient(notebook, kernel_name="python3", timeout=240,
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return notebook, folder


def outputs(notebook: nbformat.NotebookNode, tag: str) -> list:
    (cell,) = [cell for cell in notebook.cells if tag in cell.metadata.get("tags", [])]
    return cell.outputs


def test_exercise2_notebook_shows_the_class_grid_one_progress_display_per_run_the_curves_and_a_test_accuracy(executed):
    notebook, folder = executed
    for tag in ("class-grid", "curves"):
        assert [output.data["image/png"][:8] for output in outputs(notebook, tag)] == ["iVBORw0K"], tag  # one PNG
    training = outputs(notebook, "sweep")
    shown = [output.data["text/plain"].split(" | ")[:2] for output in training if output.output_type == "display_data"]
    assert shown == [["epoch 1/1", "batch 8/8"]] * 2, "one display per run, updated to its end"
    assert not any("it/s" in output.text for output in training if output.output_type == "stream"), "no tqdm lines"

    printed = "".join(output.text for output in outputs(notebook, "test") if output.output_type == "stream")
    accuracy = float(re.search(r"test accuracy (\d\.\d{4})", printed)[1])
    chosen = load_sweep(folder).selection.selected.best_run
    assert 0 < accuracy <= 1 and accuracy == pytest.approx(evaluate_checkpoint(chosen.checkpoint)["test/acc"], abs=5e-5)


def test_the_notebooks_sweep_writes_a_run_folder_per_job_named_in_tensorboard_by_what_varies(executed):
    notebook, folder = executed
    summaries = [read_summary(folder / job) for job in "01"]
    assert [s["status"] for s in summaries] == ["completed", "completed"]
    assert [s["overrides"][0] for s in summaries] == ["optimizer=sgd", "optimizer=adam"]
    assert all(len((folder / job / "metrics.csv").read_text().splitlines()) == 2 for job in "01")
    # TensorBoard: runs named by what varies across the sweep (not by the overrides every job shares), HPARAMS with
    # what the optimizer presets vary, and one lr tag for both optimizers
    board = tensorboard_runs(folder.parent)
    runs = ["sweep/0/optimizer=sgd", "sweep/1/optimizer=adam"]
    assert sorted(board.Runs()) == sorted(runs)
    sgd, adam = (hparams_of(board, run) for run in runs)
    assert set(sgd) == set(adam) == CORE | {"optimizer.momentum", "optimizer.betas"}
    assert (sgd["optimizer.momentum"], sgd["optimizer.betas"], adam["optimizer.momentum"]) == (0, "-", "-")
    assert (sgd["optimizer"], adam["optimizer"]) == ("sgd", "adam"), "by group option: momentum, not its class SGD"
    assert all("val/acc_best" in board.GetAccumulator(run).Tags()["scalars"] for run in runs), "HPARAMS' metric"
    assert all(len(board.Scalars(run, "lr")) == 1 for run in runs), "tag `lr` for every optimizer, once an epoch"
    assert custom_scalars(board, runs[0]) == {"loss": {"train/loss", "val/loss"}, "accuracy": {"train/acc", "val/acc"}}
    # Lightning's cloud tips, the deprecation inside its own code, (where Slurm is installed, as make slurm-up leaves
    # it) its hint to prepend srun, and tqdm's advice to install ipywidgets are not shown to our users
    shown = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                    for output in cell.outputs)
    assert not any(message in shown for message in ("💡 Tip", "LeafSpec", "`srun` command is available", "IProgress"))
