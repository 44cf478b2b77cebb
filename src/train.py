"""Train one MLP: `python src/train.py [key=value ...]`; sweep with `-m`, e.g. `python src/train.py -m optimizer=sgd,adam`.

Continue an interrupted run in its own folder: `python src/train.py resume=outputs/runs/<date>/<time>`, or a whole
sweep: `python src/train.py -m resume=outputs/multirun/<date>/<time>`.
"""

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from fashionlab.config import ConfigError
from fashionlab.resolvers import register_resolvers
from fashionlab.resume import resume_command
from fashionlab.runfolder import CheckpointError, RunFolderError, record_interrupted
from fashionlab.shutdown import (StoppedWhileSettingUp, ignore_sigint_in_workers, leave_interrupted,
                                 stop_on_sigterm_while_setting_up)
from fashionlab.sweeps import JobFailed


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns the best validation accuracy, the objective for Hydra sweepers."""
    register_resolvers()  # again: a sweep's worker process starts here, not in the block below
    ignore_sigint_in_workers()
    output_dir, overrides = Path(cfg.paths.output_dir), list(HydraConfig.get().overrides.task)
    try:
        stop_on_sigterm_while_setting_up()
        # The training stack (torch, Lightning: seconds to import) only now that a run really starts: --help, --cfg,
        # --info, a bad value, a bad resume= and bad sweep syntax are answered before this, by Hydra and
        # fashionlab.preflight, in about a second.
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        from fashionlab.data import DataError
        from fashionlab.training import task

        return task(cfg)
    except StoppedWhileSettingUp as stop:  # first: it may come before the names below are imported
        record_interrupted(output_dir, overrides)
        leave_interrupted(stop.code)
    except SIGTERMException:  # Lightning stopped the run at a batch; its recorder said `interrupted`
        leave_interrupted(143)  # exit as a process ended by SIGTERM
    except (DataError, CheckpointError, ConfigError, RunFolderError) as error:
        if HydraConfig.get().mode == RunMode.MULTIRUN:  # this job fails alone: its line now, and the sweep goes on
            print(f"error: {error}", file=sys.stderr, flush=True)
            raise JobFailed(f"error: {error}") from None
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    register_resolvers()
    try:
        sys.argv = resume_command(sys.argv)  # `resume=<folder>`: the run's folder, or the sweep's own command
    except ConfigError as error:
        sys.exit(f"error: {error}")
    main()
