"""The two install paths (pip extras and conda environment) name the same packages."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.conftest import REPO

# conda-forge splits dask[distributed] into two packages.
CONDA_ALIASES = {"dask[distributed]": {"dask", "distributed"}}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted: set[str] = set()
    for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
        wanted |= CONDA_ALIASES.get(_name(req), {_name(req)})

    env = yaml.safe_load((REPO / "environment.yml").read_text())
    have: set[str] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            have |= {_name(d) for d in dep["pip"] if not d.startswith("-e")}
        else:
            have.add(_name(dep))
    have -= {"python", "pip"}
    assert wanted == have, f"only in pyproject: {sorted(wanted - have)}; only in environment.yml: {sorted(have - wanted)}"
    assert any(str(d).startswith("python=3.12") for d in env["dependencies"])


def test_every_subpackage_imports_first_in_a_fresh_interpreter():
    """An import cycle shows only when a module is imported first (``botcore learn`` imports the learning package
    before the engine): each subpackage is imported on its own in a new interpreter."""
    import pkgutil
    import subprocess
    import sys

    import botcore

    names = sorted(m.name for m in pkgutil.iter_modules(botcore.__path__, "botcore.") if m.ispkg)
    assert len(names) >= 15, names
    procs = {name: subprocess.Popen([sys.executable, "-c", f"import {name}"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True) for name in names}  # both cores at once
    failed = {}
    for name, proc in procs.items():
        _out, err = proc.communicate(timeout=600)
        if proc.returncode:
            failed[name] = err.strip().splitlines()[-1]
    assert not failed, failed
