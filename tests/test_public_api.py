"""The public facade: a sorted, complete ``__all__`` and nothing heavy imported."""

from __future__ import annotations

import ast
import importlib
import pathlib
import pickle
import re
import subprocess
import sys
import types
import typing
from collections.abc import Iterator

import pytest

import cmdrun
from children import without_site


def test_all_is_sorted_and_complete() -> None:
    public = {
        name
        for name, value in vars(cmdrun).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert cmdrun.__all__ == sorted(cmdrun.__all__)
    assert public - {"annotations"} <= set(cmdrun.__all__)
    for name in cmdrun.__all__:
        assert hasattr(cmdrun, name), name


@pytest.mark.parametrize("package", ["cmdrun", "cmdrun.testing"])
def test_exported_classes_and_functions_name_the_public_package(package: str) -> None:
    # Tracebacks and reprs say cmdrun.CommandFailed, not cmdrun._errors.CommandFailed.
    module = importlib.import_module(package)
    exported = [getattr(module, name) for name in module.__all__]
    named = [obj for obj in exported if isinstance(obj, (type, types.FunctionType))]
    assert len(named) > len(exported) // 2
    assert {obj.__qualname__: obj.__module__ for obj in named} == {
        obj.__qualname__: package for obj in named
    }


@pytest.mark.parametrize("package", ["cmdrun", "cmdrun.testing"])
def test_exported_classes_and_functions_still_pickle_by_reference(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, (type, types.FunctionType)):
            assert pickle.loads(pickle.dumps(obj)) is obj, name


def test_exported_classes_keep_resolvable_type_hints() -> None:
    from cmdrun import testing

    for module in (cmdrun, testing):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type):
                typing.get_type_hints(obj)


def test_dir_lists_every_public_name_including_the_lazy_asyncio_api() -> None:
    names = dir(cmdrun)
    assert {"arun", "arun_many", *cmdrun.__all__} <= set(names)
    assert "TYPE_CHECKING" not in names
    assert "TYPE_CHECKING" not in vars(cmdrun)


def test_help_shows_the_asyncio_api() -> None:
    import pydoc

    text = pydoc.render_doc(cmdrun, renderer=pydoc.plaintext)
    assert "arun(" in text
    assert "arun_many(" in text
    assert cmdrun.__getattr__.__doc__


def test_import_and_dir_do_not_import_asyncio() -> None:
    code = "import cmdrun, sys; dir(cmdrun); print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]


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


def _cmdrun_modules() -> list[types.ModuleType]:
    import pkgutil

    names = [info.name for info in pkgutil.walk_packages(cmdrun.__path__, "cmdrun.")]
    return [cmdrun, *(importlib.import_module(name) for name in names)]


def _docstrings(obj: object, where: str, seen: set[int]) -> Iterator[tuple[str, str]]:
    """(where, docstring) for ``obj`` and every class, function, method and property in it."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    doc = (
        obj.__doc__ if isinstance(obj, (type, types.ModuleType)) else getattr(obj, "__doc__", None)
    )
    if isinstance(doc, str):
        yield where, doc
    if not isinstance(obj, (type, types.ModuleType)):
        return
    for name, member in vars(obj).items():
        inner = _unwrap(member)
        if isinstance(inner, (type, types.FunctionType)):
            yield from _docstrings(inner, f"{where}.{name}", seen)


def _unwrap(member: object) -> object:
    if isinstance(member, (staticmethod, classmethod)):
        return member.__func__
    if isinstance(member, property):
        return member.fget
    return member


def test_no_docstring_holds_a_control_character() -> None:
    # A "\r" or "\b" written in a non-raw docstring garbles help(); "\\r" is what was meant.
    control = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
    seen: set[int] = set()
    found = [
        (where, control.findall(doc))
        for module in _cmdrun_modules()
        for where, doc in _docstrings(module, module.__name__, seen)
        if control.search(doc)
    ]
    assert found == []


def test_docstring_walk_sees_the_testing_package_and_methods() -> None:
    seen: set[int] = set()
    where = {w for m in _cmdrun_modules() for w, _ in _docstrings(m, m.__name__, seen)}
    assert {"cmdrun.testing", "cmdrun.Result.check_returncode", "cmdrun.Result.stdout"} <= where


def _docstring_literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, source text) of every module, class and function docstring in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                yield first.lineno, ast.get_source_segment(source, first.value) or ""


def test_docstrings_escape_backslashes() -> None:
    # ``\n`` in a non-raw docstring shows help() a line break, not the two characters meant.
    src = pathlib.Path(cmdrun.__file__).parent
    found = [
        f"{path.relative_to(src)}:{line}: \\{escape}"
        for path in sorted(src.rglob("*.py"))
        for line, literal in _docstring_literals(path.read_text())
        if "r" not in literal.split(literal[-1], 1)[0].lower()  # the prefix: not raw
        for escape in re.findall(r"\\(.)", literal, flags=re.DOTALL)
        if escape != "\\"
    ]
    assert found == []


def _one_of_each_exception() -> list[BaseException]:
    from cmdrun import testing

    failed = cmdrun.Result(("prog", "a b"), 3, stderr_bytes=b"boom\n")
    stopped = cmdrun.Result(("sleep", "9"), -15, timed_out=True, timeout=0.5)
    return [
        cmdrun.CmdrunError("base"),
        cmdrun.CommandFailed(failed),
        cmdrun.CommandNotExecutable("x", "permission denied", 13, "/tmp/x"),
        cmdrun.CommandNotFound("nope", "/bin"),
        cmdrun.CommandTimedOut(stopped, 0.5),
        cmdrun.ConnectionFailed("web1", "connection lost", "closed by remote host", failed),
        cmdrun.ExpectTimeout(["sh"], "'$ '", "no prompt", 0.2),
        cmdrun.SessionClosed(["sh"], "sendline", 0, True),
        cmdrun.StartFailed("x", "out of processes", 11),
        cmdrun.UnexpectedEOF(["sh"], "'$ '", "bye", 0),
        testing.CassetteError("not valid JSON"),
        testing.CassetteMiss("no recording"),
        testing.DialogueMismatch("expected 'y'"),
        testing.FakeHang("waits for input"),
        testing.UnregisteredCommand("git status"),
    ]


def test_every_exported_exception_survives_pickling_by_its_public_name() -> None:
    from cmdrun import testing

    errors = _one_of_each_exception()
    exported = {
        obj
        for module in (cmdrun, testing)
        for obj in (getattr(module, name) for name in module.__all__)
        if isinstance(obj, type) and issubclass(obj, BaseException)
    }
    assert {type(err) for err in errors} == exported
    for err in errors:
        data = pickle.dumps(err, protocol=0)
        # Protocol 0 names a class as "c<module>\n<name>\n": the public module, not _errors.
        found = re.search(rb"c([\w.]+)\n" + type(err).__name__.encode() + rb"\n", data)
        assert found is not None
        assert found.group(1) in (b"cmdrun", b"cmdrun.testing")
        copy = pickle.loads(data)
        assert type(copy) is type(err)
        assert str(copy) == str(err)


def test_result_survives_pickling_by_its_public_name() -> None:
    r = cmdrun.Result(("prog", "a b"), 3, stdout_bytes=b"x", duration=1.5, timeout=2.0)
    copy = pickle.loads(pickle.dumps(r))
    assert [getattr(copy, f) for f in ("args", "returncode", "stdout", "duration", "timeout")] == [
        ("prog", "a b"),
        3,
        "x",
        1.5,
        2.0,
    ]


def test_run_options_agree_with_the_typed_dicts() -> None:
    """``RunOptions``/``BatchOptions`` exist for type checkers only (built at import they cost
    the command-line tool about 1 ms per start); ``_RUN_OPTIONS``, which ``run`` checks
    keywords against at run time, must list exactly their keys."""
    import ast
    import inspect

    from cmdrun import _spec

    tree = ast.parse(inspect.getsource(_spec))
    keys: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in ("BatchOptions", "RunOptions"):
            keys |= {
                item.target.id
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
    assert len(keys) > 20
    assert keys == _spec._RUN_OPTIONS


def test_spawn_options_agree_with_spawn_and_the_typed_dict() -> None:
    """``aspawn`` takes ``spawn``'s keywords as ``**options``: the set it checks them
    against at run time, ``SpawnOptions`` (for type checkers) and ``spawn``'s own keyword
    parameters must be the same names."""
    import ast
    import inspect

    from cmdrun import _session

    tree = ast.parse(inspect.getsource(_session))
    typed = {
        item.target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name == "SpawnOptions"
        for item in node.body
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
    }
    parameters = inspect.signature(cmdrun.spawn).parameters
    keywords = {n for n, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert len(keywords) > 10
    assert keywords == typed == _session.SPAWN_OPTIONS


def test_aspawn_refuses_an_unknown_option_by_name() -> None:
    with pytest.raises(TypeError, match=r"aspawn\(\) .*shel"):
        cmdrun.aspawn(["cat"], shel=True).__await__().send(None)  # type: ignore[call-arg]


#: All that ``cmdrun.run`` may import beyond what ``import subprocess`` already has, besides
#: cmdrun's own modules: anything else (typing, importlib, weakref, struct, logging,
#: dataclasses, ...) is start-up time that every program and every ``cmdrun`` command pays.
RUN_PATH_STDLIB = {"__future__", "_contextvars", "contextvars", "shlex"}
if sys.version_info < (3, 11):  # 3.10's subprocess does not import re (cmdrun needs it)
    RUN_PATH_STDLIB |= {"re", "sre_compile", "sre_constants", "sre_parse", "_sre", "copyreg"}
    RUN_PATH_STDLIB |= {"_locale"}

#: cmdrun's modules that ``cmdrun.run`` leaves for their own names (``cmdrun._LATER``).
NOT_ON_THE_RUN_PATH = {"cmdrun._parallel", "cmdrun._remote", "cmdrun._session", "cmdrun._stream"}


def _imported_by_run(extra: str = "") -> set[str]:
    """The modules ``import cmdrun; cmdrun.run`` adds to a process that imported subprocess;
    without ``site`` (which may import anything for its own reasons), this cmdrun on the path."""
    code = (
        "import subprocess\n"
        "before = set(sys.modules)\n"
        f"import cmdrun; cmdrun.run; {extra}\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run(without_site(code), capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_run_imports_nothing_heavy_beyond_subprocess() -> None:
    added = _imported_by_run()
    assert {m for m in added if m.split(".")[0] != "cmdrun"} <= RUN_PATH_STDLIB
    assert "cmdrun._run" in added
    assert added.isdisjoint(NOT_ON_THE_RUN_PATH)


def test_first_use_of_a_later_name_imports_its_module_and_publishes_it() -> None:
    added = _imported_by_run("assert cmdrun.spawn.__module__ == 'cmdrun'")
    assert added >= NOT_ON_THE_RUN_PATH
    assert {name.removeprefix("cmdrun") for name in NOT_ON_THE_RUN_PATH} == cmdrun._LATER
