"""Pure naming helpers: on Hydra override strings (`key=value`), what a run was given, what varies, what is a
replicate; of a `_target_` node, the class it builds.

Replicate keys draw a run's randomness without changing what is being compared: runs whose overrides differ only in
them are replicates of one configuration (`python src/train.py -m optimizer=sgd,adam seed=0,1,2,3,4` is two
configurations of five replicates each).
"""

import hashlib
import re
from typing import Any

REPLICATE_KEYS = ("seed", "data.split_seed")  # initialization, batch order, augmentation; the validation split
SWEEPER_KEYS = ("search.",)  # `++search.storage`, `.study`, `.trial`: hydra/sweeper=search's bookkeeping
_ABSENT = object()
MAX_NAME = 96  # characters of a run name; longer ones are cut and end in a hash of the whole
UNSAFE = re.compile(r"[^\w.=,+\-\[\]]")  # anything else (/, :, spaces, quotes, *) becomes _ in a folder name


def override_key(override: str) -> str:
    """The key an override sets: `+key=v`, `++key=v` and `~key` all name `key`."""
    return override.lstrip("+~").split("=", 1)[0]


def override_values(overrides: list[str]) -> dict[str, str]:
    """Overrides by key; `+key` (append) and `++key` (force) set the same key as `key`. Without the ones a sweeper adds
    to tell a job its study (SWEEPER_KEYS): they tell no run apart (a search's job folder is its trial number)."""
    pairs = (override.lstrip("+").split("=", 1) for override in overrides if "=" in override)
    return {key: value for key, value in pairs if not key.startswith(SWEEPER_KEYS)}


def configuration_overrides(overrides: list[str]) -> list[str]:
    """The overrides as typed, without replicate keys and sweeper bookkeeping: what makes the configuration."""
    return [override for override in overrides if "=" in override
            and override.lstrip("+").split("=", 1)[0] not in REPLICATE_KEYS
            and not override.lstrip("+").startswith(SWEEPER_KEYS)]


def target_name(node: Any) -> str | None:
    """The class or function a `_target_` node builds, without its module (torch.optim.AdamW: AdamW); None for null."""
    return node._target_.rsplit(".", 1)[-1] if node else None


def readable(value: str) -> str:
    """An override's value as a run name or label shows it: a long number (one a search draws) to 4 significant
    digits, 0.004979 for 0.004978958595293973; anything else as typed."""
    try:
        return f"{float(value):.4g}" if len(value) > 8 and any(c in value for c in ".e") else value
    except ValueError:
        return value


def varying_keys(records: list[dict[str, Any]]) -> list[str]:
    """The keys whose value differs between the records (a key missing from some differs too), in first-seen order."""
    keys = dict.fromkeys(key for record in records for key in record)
    return [key for key in keys if len({repr(record.get(key, _ABSENT)) for record in records}) > 1]


def replicates_last(keys: list[str]) -> list[str]:
    """`keys` with the replicate keys moved to the end, so that names built from them share a prefix per
    configuration (`optimizer=adam,seed=3`)."""
    return [key for key in keys if key not in REPLICATE_KEYS] + [key for key in keys if key in REPLICATE_KEYS]


def overrides_name(overrides: list[str], keys: list[str] | None = None) -> str:
    """`key=value,...` of the overrides (those of `keys`, when given; values `readable`; replicate keys last, so that
    the replicates of one configuration share a prefix), safe as a folder name:
    characters outside letters, digits and `._=,+-[]` become `_`; past MAX_NAME it is cut and ends in a hash of the
    whole."""
    values = override_values(list(overrides))
    named = replicates_last([key for key in values if keys is None or key in keys])
    name = UNSAFE.sub("_", ",".join(f"{key}={readable(values[key])}" for key in named))
    if len(name) > MAX_NAME:
        name = f"{name[:MAX_NAME - 9]}~{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return name
