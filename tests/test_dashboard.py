"""Run folder names, and how tests read what TensorBoard shows of a run: its name, HPARAMS, CUSTOM SCALARS, scalars.

The sweeps that these checks read are run by test_notebook (SGD vs Adam, the notebook's sweep) and test_report (make
ablation)."""

import re
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
from tensorboard.util import tensor_util
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.custom_scalar import metadata as custom_scalars_metadata
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2

from conftest import ROOT
from fashionlab.resolvers import register_resolvers
from fashionlab.overrides import MAX_NAME, overrides_name

CORE = {"optimizer", "lr", "scheduler", "batch_size", "hidden_sizes", "seed"}


def tensorboard_runs(logdir: Path) -> EventMultiplexer:
    """The runs under `logdir` as `tensorboard --logdir` names them: by their folder below it."""
    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    return multiplexer.Reload()


def hparams_of(multiplexer: EventMultiplexer, run: str) -> dict:
    """The run's HPARAMS values, as the hparams plugin reads them. The run writes no experiment summary: TensorBoard
    then shows the union of every run's keys, and the runs' scalars as metrics."""
    contents = multiplexer.PluginRunToTagToContent(hparams_metadata.PLUGIN_NAME)[run]
    assert hparams_metadata.EXPERIMENT_TAG not in contents, "an experiment of one run would hide the others' keys"
    start = plugin_data_pb2.HParamsPluginData.FromString(contents[hparams_metadata.SESSION_START_INFO_TAG])
    return {key: getattr(value, value.WhichOneof("kind")) for key, value in start.session_start_info.hparams.items()}


def custom_scalars(multiplexer: EventMultiplexer, run: str) -> dict[str, set[str]]:
    """The run's scalar tags that each chart of its CUSTOM SCALARS layout draws (the layout holds regexes)."""
    (event,) = multiplexer.Tensors(run, custom_scalars_metadata.CONFIG_SUMMARY_TAG)
    layout = layout_pb2.Layout.FromString(tensor_util.make_ndarray(event.tensor_proto).item())
    tags = multiplexer.GetAccumulator(run).Tags()["scalars"]
    return {chart.title: {tag for tag in tags for pattern in chart.multiline.tag if re.search(pattern, tag)}
            for category in layout.category for chart in category.chart}


def test_single_run_is_named_by_its_overrides_in_a_safe_short_folder_name(tmp_path):
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=["optimizer=adam", "model.hidden_sizes=[64]", "data.data_dir=/mnt/my data"],
                      return_hydra_config=True)
    GlobalHydra.instance().clear()
    HydraConfig().set_config(cfg)
    cfg.paths.output_dir = str(tmp_path / "run")
    # TensorBoard's run: <run folder>/<name>, every override of a single run, no slash or space
    assert cfg.logger.version == "optimizer=adam,model.hidden_sizes=[64],data.data_dir=_mnt_my_data"
    long_list, other_list = ("[" + ",".join(["1024"] * 39 + [last]) + "]" for last in ("1024", "512"))
    long, other = (overrides_name([f"model.hidden_sizes={sizes}"]) for sizes in (long_list, other_list))
    assert len(long) == len(other) == MAX_NAME and long != other, "cut, and told apart by a hash of the whole"
    # a search trial: the values it drew, shortened, without the sweeper's search.* bookkeeping
    trial = ["optimizer=adam", "optimizer.lr=0.004978958595293973", "model.dropout=0.1",
             "++search.storage='/tmp/sweep/optuna.journal'", "++search.study=search", "++search.trial=9"]
    assert overrides_name(trial) == "optimizer=adam,optimizer.lr=0.004979,model.dropout=0.1"
