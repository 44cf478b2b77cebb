"""Run folder names and what TensorBoard shows of a single run (helpers.py reads HPARAMS and CUSTOM SCALARS for the
sweeps of test_notebook and test_report)."""

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig

from conftest import ROOT
from fashionlab.resolvers import register_resolvers
from fashionlab.overrides import MAX_NAME, overrides_name


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
