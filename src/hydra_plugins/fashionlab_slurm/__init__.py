"""fashionlab's Slurm launcher: Hydra's submitit launcher with one-line errors (conf/launcher/slurm.yaml)."""
