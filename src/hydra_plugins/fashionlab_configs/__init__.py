"""fashionlab's config nodes that YAML cannot express, stored where Hydra finds them in every process that composes:
`trainer_arguments`, an empty node left open, the base of conf/trainer/default.yaml. Hydra closes every other node
(a key it lacks needs `+`), so any lightning.Trainer argument is set as `trainer.<name>=...`; fashionlab.config
refuses a name Trainer does not take, before any work."""

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

ConfigStore.instance().store(name="trainer_arguments", provider="fashionlab",
                             node=OmegaConf.create({}, flags={"struct": False}))
