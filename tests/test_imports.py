"""The import graph of src/: no circle between its modules, counting imports inside functions too."""

import ast
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The modules of `modules` that the file imports, anywhere in it (`from a import b` counts a.b when a.b is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        found |= {name for name in names if name in modules}
    return found


def test_the_modules_of_src_import_each_other_without_a_circle():
    files = {module_name(path): path for path in SRC.rglob("*.py")}
    graph = {name: imports(path, set(files)) - {name} for name, path in files.items()}
    circles, done = [], set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            circles.append(path[path.index(name):] + [name])
            return
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert circles == []


# The layers of src/, lowest first: a module imports only from its own layer or those before it. A new module must be
# placed here (the test fails for one that is not), and docs/layout.md shows the same list.
LAYERS = {
    "contracts": ["fashionlab", "fashionlab.runfolder", "fashionlab.sweepfolder", "fashionlab.overrides",
                  "fashionlab.config", "fashionlab.machine", "fashionlab.precision", "fashionlab.slurm",
                  "fashionlab.schedules", "fashionlab.augment", "fashionlab.adam_example", "fashionlab.draws",
                  "fashionlab.quiet"],
    "runs": ["fashionlab.data", "fashionlab.model", "fashionlab.module", "fashionlab.records", "fashionlab.varying",
             "fashionlab.tensorboard", "fashionlab.progress", "fashionlab.training", "fashionlab.evaluation", "fashionlab.resume",
             "fashionlab.shutdown", "fashionlab.sweeps", "fashionlab.preflight", "fashionlab.pruning",
             "fashionlab.resolvers", "fashionlab.stacking", "fashionlab.cores"],
    "reporting": ["fashionlab.reporting"],  # the package and every module in it
    "sweeping": ["fashionlab.confirmation", "fashionlab.command"],
    "api": ["fashionlab.api"],
    "entry points": ["train", "eval", "report", "confirm", "sweep", "hydra_plugins"],
}


def layer_of(module: str) -> int:
    """The index of the module's layer: its own entry, else that of the package it is in."""
    for index, members in enumerate(LAYERS.values()):
        if any(module == member or (member != "fashionlab" and module.startswith(f"{member}.")) for member in members):
            return index
    raise AssertionError(f"{module} is in no layer of tests/test_imports.py's LAYERS: place it")


def test_every_import_in_src_points_down_the_layers_modules_and_packages_alike():
    files = {module_name(path): path for path in SRC.rglob("*.py")}
    upward = [f"{name} ({list(LAYERS)[layer_of(name)]}) imports {imported} ({list(LAYERS)[layer_of(imported)]})"
              for name, path in sorted(files.items()) for imported in sorted(imports(path, set(files)))
              if layer_of(imported) > layer_of(name)]
    assert upward == []


SIDE_EFFECTS = r'''
import importlib, logging, sys, warnings
from pathlib import Path

def state():
    import matplotlib
    loggers = {name: (logger.level, list(logger.filters), list(logger.handlers), logger.propagate, logger.disabled)
               for name, logger in [("", logging.root), *logging.root.manager.loggerDict.items()]
               if isinstance(logger, logging.Logger)}
    return {"matplotlib backend": dict.__getitem__(matplotlib.rcParams, "backend"),
            "warning filters": list(warnings.filters), "loggers": loggers}

for name in sys.argv[2].split():  # the lab's dependencies first: what they do on import is theirs
    try:
        importlib.import_module(name)
    except ImportError:
        pass
before = state()
for name in sys.argv[1].split():
    importlib.import_module(name)
after = state()
changed = [key for key in before if key != "loggers" and before[key] != after[key]]
for name in sorted(before["loggers"]):
    if before["loggers"][name] != after["loggers"][name]:
        changed.append(f"logger {name!r}")
print("changed:", changed)
'''


def test_importing_any_part_of_the_lab_changes_nothing_in_the_process():
    """matplotlib's backend, the warning filters and every existing logger's level, filters and handlers are, after
    importing every module of the lab, as its dependencies left them (a notebook's plt.show() and its own warnings
    work as without the lab). Loggers the lab creates are new, not changed."""
    import subprocess
    import sys

    files = {module_name(path): path for path in SRC.rglob("*.py")}
    lab = sorted(name for name in files if name.startswith(("fashionlab", "hydra_plugins.fashionlab")))
    dependencies = sorted({node.module.split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
                           for path in files.values() for node in ast.walk(ast.parse(path.read_text()))
                           if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "level", 0) == 0
                           for alias in node.names
                           if not (node.module if isinstance(node, ast.ImportFrom) else alias.name).startswith(
                               ("fashionlab", "hydra_plugins.fashionlab", "bench"))})
    assert {"torch", "lightning", "hydra", "optuna", "matplotlib"} <= set(dependencies)
    done = subprocess.run([sys.executable, "-c", SIDE_EFFECTS, " ".join(lab), " ".join(dependencies)],
                          capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "changed: []"
