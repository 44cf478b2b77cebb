"""One training run, from its composed config to a fitted model in its run folder: the task of src/train.py and of
fashionlab.api; with stack=true, a sweep job that trains its group of jobs as one stack."""

import logging
from pathlib import Path

import lightning as L
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from fashionlab.cores import ShareCores
from fashionlab.overrides import override_key
from fashionlab.progress import progress_bar
from fashionlab.quiet import quiet
from fashionlab.resume import EarlierRun, reopen_job_folder
from fashionlab.runfolder import Status, checkpoint, checkpoint_config, read_summary, record_status
from fashionlab.sweepfolder import read_stack
from fashionlab.tensorboard import log_overview

log = logging.getLogger(__name__)


def task(cfg: DictConfig) -> float:
    """A run as Hydra launches it (src/train.py, or fashionlab.api in this process): continued from its checkpoint for
    `resume=`, or, in a sweep launched into its folder again, kept when finished and continued when stopped (see
    reopen_job_folder); else trained afresh. Returns the best validation accuracy, the objective for Hydra sweepers."""
    ckpt_path = None
    if cfg.resume:  # the run continues with its own config, stored in its checkpoint
        ckpt_path = checkpoint(cfg.resume)
        cfg = checkpoint_config(ckpt_path)
    elif HydraConfig.get().mode == RunMode.MULTIRUN:
        folder = Path(cfg.paths.output_dir)
        if cfg.get("stack") and folder.name.isdigit() and (jobs := read_stack(folder.parent, int(folder.name))):
            return stacked_task(cfg, jobs)
        earlier = reopen_job_folder(Path(cfg.paths.output_dir), list(HydraConfig.get().overrides.task))
        if earlier.finished:
            return earlier.best_val_acc
        ckpt_path = earlier.checkpoint
    return float(train(cfg, ckpt_path).callback_metrics["val/acc_best"])


@quiet()
def train(cfg: DictConfig, ckpt_path: Path | None = None) -> L.Trainer:
    """Fit the configured model, or continue the run of `ckpt_path`; the run folder receives checkpoints, events,
    metrics.csv and summary.json. A run that fails before training starts records `failed` with the error."""
    try:
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        datamodule = instantiate(cfg.data)
        datamodule.prepare_data()
        datamodule.setup("fit")  # bad data stops the run here, before any training
        module = instantiate(cfg.module)
        # The resolved config travels inside every checkpoint: eval and resume rebuild everything from it.
        module.save_hyperparameters({"config": OmegaConf.to_container(cfg, resolve=True)}, logger=False)
        logger = instantiate(cfg.logger)
        callbacks = [*(instantiate(callback) for callback in cfg.callbacks.values()), ShareCores()]
        if cfg.trainer.enable_progress_bar:
            callbacks.append(progress_bar())  # in place of Lightning's own, which would show the logger's version
        trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks)
    except Exception as error:
        record_status(cfg.paths.output_dir, list(HydraConfig.get().overrides.task), Status.FAILED,
                      error=f"{type(error).__name__}: {error}")
        raise
    log_overview(logger, cfg, datamodule, first_session=ckpt_path is None)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    return trainer


def stacked_task(cfg: DictConfig, jobs: list[tuple[int, list[str]]]) -> float:
    """The first job of a stack (fashionlab.sweeps.StackedLaunch) runs every job of its group, each in its own folder:
    those finished before are kept, those stopped before continue alone from their checkpoints (their epochs differ),
    the others train as one stack. A job that fails (a checkpoint it cannot read) fails alone: the others still run,
    then this job ends with its error. Returns the first job's best validation accuracy."""
    from fashionlab.stacking import train_stack  # the stack's Lightning code, only in the job that trains one

    fresh, failures = [], []
    for number, overrides in jobs:
        job = JobFolder(number, overrides)
        try:
            earlier = reopen_job_folder(job.folder, overrides)
            if earlier.checkpoint is not None and not earlier.finished:
                log.info(f"Job {number} alone: continues from its checkpoint, at its own epoch")
                with job:
                    train(job.cfg, earlier.checkpoint)
            elif not earlier.finished:
                fresh.append(job)
        except Exception as error:  # this job fails alone, as it would in a sweep without stacking
            log.error(f"job {number}: {type(error).__name__}: {error}")
            failures.append(error)
    if len(fresh) == 1:
        log.info(f"Job {fresh[0].folder.name} alone: the one job of its group still to train")
        with fresh[0]:
            train(fresh[0].cfg)
    elif fresh:
        train_stack([job.resolved() for job in fresh])
    if failures:  # now that the group's other jobs have run: the job fails with the first error, as Hydra reports it
        raise failures[0]
    return EarlierRun(read_summary(cfg.paths.output_dir), None).best_val_acc


class JobFolder:
    """Job `number` of this sweep, composed as a launcher composes it, its folder set up as Hydra sets up a job's
    (.hydra/ with its config, Hydra's config and its overrides); `with` it, HydraConfig is the job's."""

    def __init__(self, number: int, overrides: list[str]):
        leader = HydraConfig.get()
        master = OmegaConf.create({"hydra": OmegaConf.to_container(leader)})
        master.hydra.overrides.hydra = [item for item in leader.overrides.hydra
                                        if override_key(item) != "hydra.sweep.subdir"]
        config = GlobalHydra.instance().config_loader().load_sweep_config(
            master, [*overrides, f"hydra.sweep.subdir={number}"])
        with open_dict(config):
            config.hydra.job.id, config.hydra.job.num = f"job_id_for_{number}", number
            config.hydra.runtime.output_dir = str(Path(config.hydra.sweep.dir, str(number)).absolute())
        self.config, self.folder = config, Path(config.hydra.runtime.output_dir)
        self.cfg = OmegaConf.masked_copy(config, [key for key in config if key != "hydra"])
        hydra_folder = self.folder / config.hydra.output_subdir
        hydra_folder.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.cfg, hydra_folder / "config.yaml")
        OmegaConf.save(OmegaConf.create({"hydra": config.hydra}), hydra_folder / "hydra.yaml")
        OmegaConf.save(config.hydra.overrides.task, hydra_folder / "overrides.yaml")

    def __enter__(self):
        self.earlier = HydraConfig.instance().cfg
        HydraConfig.instance().set_config(self.config)
        return self

    def __exit__(self, *exc):
        HydraConfig.instance().cfg = self.earlier

    def resolved(self) -> DictConfig:
        """The job's config with every interpolation resolved as in its own job (its folder, its overrides)."""
        with self:
            return OmegaConf.create(OmegaConf.to_container(self.cfg, resolve=True))
