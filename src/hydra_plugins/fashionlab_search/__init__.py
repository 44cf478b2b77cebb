"""fashionlab's Hydra sweeper: an Optuna search whose trials are ordinary jobs of any launcher, pruned as they train."""
