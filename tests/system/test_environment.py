"""pyproject.toml and environment.yml must state the same packages and versions."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pip_requirements(group=None):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] if group is None else project["optional-dependencies"][group]
    out = {}
    for text in reqs:
        req = Requirement(text)
        # conda-forge splits dask[distributed] into dask and distributed
        names = [req.name] + (["distributed"] if req.name == "dask" and "distributed" in req.extras else [])
        for name in names:
            out[canonicalize_name(name)] = req.specifier
    return out


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda, pip = {}, {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            for text in entry["pip"]:
                req = Requirement(text)
                pip[canonicalize_name(req.name)] = req.specifier
            continue
        name, spec = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", entry).groups()
        conda[canonicalize_name(name)] = SpecifierSet(spec) if "==" in spec or "<" in spec or ">" in spec else spec
    return conda, pip


def test_runtime_and_test_dependencies_agree():
    conda, _ = conda_requirements()
    wanted = {**pip_requirements(), **pip_requirements("test")}
    conda_only = {k: v for k, v in conda.items() if k not in ("python", "pip")}
    assert set(conda_only) == set(wanted), set(conda_only) ^ set(wanted)
    for name, spec in wanted.items():
        assert conda_only[name] == spec, (name, str(conda_only[name]), str(spec))


def test_cuda_extra_agrees_with_pip_section():
    _, pip = conda_requirements()
    assert pip == pip_requirements("cuda")


def test_known_constraints_are_pinned():
    deps = pip_requirements()
    assert str(deps["brian2"]) == "==2.8.0"
    assert str(deps["elephant"]) == "==1.2.1"
    # Brian2 2.8 breaks on numpy 2.3+
    assert not deps["numpy"].contains("2.3.0") and deps["numpy"].contains("2.2.6")
    assert str(pip_requirements("cuda")["brian2cuda"]) == "==1.0a7"
