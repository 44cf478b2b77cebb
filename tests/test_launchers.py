"""The launcher group's presets as composed: launcher=slurm fits CPU nodes, launcher=slurm_gpu asks for a GPU.
launcher=parallel is tested with stopping and resuming in test_sweep_recovery.py, launcher=slurm on a real local
cluster in test_slurm.py."""

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from lightning.pytorch.plugins.environments import SLURMEnvironment

from conftest import ROOT


def composed(*overrides: str):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    GlobalHydra.instance().clear()
    return cfg


def test_slurm_launcher_asks_for_cpus_only_and_gives_torch_their_number():
    cfg = composed("launcher=slurm", "hydra.launcher.partition=cpu")
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.fashionlab_slurm.slurm_launcher.SlurmLauncher"
    assert (launcher.partition, launcher.gpus_per_node, launcher.cpus_per_task) == ("cpu", None, 1)
    assert launcher.setup == ["export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK"]
    assert launcher.max_num_timeout > 0, "a job at its time limit is requeued, a few times at most"
    (environment,) = [instantiate(plugin) for plugin in cfg.trainer.plugins]
    assert isinstance(environment, SLURMEnvironment) and not environment.auto_requeue


def test_slurm_gpu_launcher_asks_for_one_gpu_per_job():
    launcher = composed("launcher=slurm_gpu").hydra.launcher
    assert (launcher.gpus_per_node, launcher.cpus_per_task, launcher.mem_gb) == (1, 4, 16)
    assert launcher._target_.endswith("fashionlab_slurm.slurm_launcher.SlurmLauncher")
