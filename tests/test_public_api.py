"""The public facade: a sorted, complete ``__all__`` and nothing heavy imported."""

from __future__ import annotations

import subprocess
import sys
import types

import cmdrun


def test_all_is_sorted_and_complete() -> None:
    public = {
        name
        for name, value in vars(cmdrun).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert cmdrun.__all__ == sorted(cmdrun.__all__)
    assert public - {"annotations", "TYPE_CHECKING"} <= set(cmdrun.__all__)
    for name in cmdrun.__all__:
        assert hasattr(cmdrun, name), name


def test_exported_objects_belong_to_cmdrun() -> None:
    for name in cmdrun.__all__:
        obj = getattr(cmdrun, name)
        if hasattr(obj, "__module__"):
            assert obj.__module__.startswith("cmdrun"), name


def test_import_does_not_import_pexpect() -> None:
    code = "import cmdrun, sys; print('pexpect' in sys.modules, 'ptyprocess' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_package_ships_py_typed() -> None:
    from importlib import resources

    assert resources.files("cmdrun").joinpath("py.typed").is_file()


def test_testing_all_is_sorted_and_complete() -> None:
    from cmdrun import testing

    public = {
        name
        for name, value in vars(testing).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert testing.__all__ == sorted(testing.__all__)
    assert public - {"annotations"} <= set(testing.__all__)


def test_import_cmdrun_testing_does_not_import_pytest() -> None:
    code = "import cmdrun.testing, sys; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]
