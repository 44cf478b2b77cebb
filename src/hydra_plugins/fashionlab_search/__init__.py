"""fashionlab's Hydra sweepers: grids that can stack replicates, replicate rounds (confirm) and an Optuna search whose
trials are ordinary jobs of any launcher, pruned as they train."""
