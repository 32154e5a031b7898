"""A Secret's plaintext reaches the program and nothing else: every surface, pipes and PTY."""

from __future__ import annotations

import copy
import io
import logging
import pathlib
import pickle
import re
from collections.abc import Callable

import pytest

import cmdrun
from children import echo_slowly, password_program, print_input, py
from cmdrun import Secret
from cmdrun._secret import Redactor

PASSWORD = "s3cr3t-Pa55-w0rd-9q7z"
TRANSPORTS = pytest.mark.parametrize("tty", [False, True], ids=["pipes", "pty"])


def assert_hidden(*places: str | bytes, secret: str = PASSWORD) -> None:
    """No 4 consecutive characters of ``secret`` appear anywhere (not even part of it)."""
    for place in places:
        text = place.decode("utf-8", "replace") if isinstance(place, bytes) else place
        for i in range(len(secret) - 3):
            assert secret[i : i + 4] not in text, f"{secret[i : i + 4]!r} leaked in {text!r}"


@TRANSPORTS
def test_secret_never_reaches_line_callbacks(tty: bool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="cmdrun")
    out: list[str] = []
    err: list[str] = []
    result = cmdrun.run(
        print_input(),
        input=Secret(PASSWORD),
        tty=tty,
        timeout=20,
        on_stdout=out.append,
        on_stderr=err.append,
    )
    assert "line: ******" in "".join(out)
    assert_hidden(*out, *err, result.stdout, result.stderr, repr(result), caplog.text)


@TRANSPORTS
def test_secret_never_reaches_stream_lines(tty: bool) -> None:
    with cmdrun.stream(print_input(), input=Secret(PASSWORD), tty=tty, timeout=20) as lines:
        texts = [line.text for line in lines]
    assert any("line: ******" in text for text in texts)
    assert_hidden(*texts)


@TRANSPORTS
def test_secret_never_reaches_tee(tty: bool, capfd: pytest.CaptureFixture[str]) -> None:
    cmdrun.run(print_input(), input=Secret(PASSWORD), tty=tty, timeout=20, tee=True)
    captured = capfd.readouterr()
    assert "line: ******" in captured.out
    assert_hidden(captured.out, captured.err)


def _path_target(tmp_path: pathlib.Path, name: str) -> tuple[object, Callable[[], bytes]]:
    path = tmp_path / name
    return path, path.read_bytes


def _file_target(tmp_path: pathlib.Path, name: str) -> tuple[object, Callable[[], bytes]]:
    path = tmp_path / name
    file = path.open("wb")

    def read() -> bytes:
        file.close()
        return path.read_bytes()

    return file, read


def _memory_target(tmp_path: pathlib.Path, name: str) -> tuple[object, Callable[[], bytes]]:
    buffer = io.BytesIO()
    return buffer, buffer.getvalue


@TRANSPORTS
@pytest.mark.parametrize(
    "target", [_path_target, _file_target, _memory_target], ids=["path", "file", "bytesio"]
)
def test_secret_never_reaches_output_files(
    tty: bool,
    target: Callable[[pathlib.Path, str], tuple[object, Callable[[], bytes]]],
    tmp_path: pathlib.Path,
) -> None:
    stdout, read_stdout = target(tmp_path, "out")
    stderr, read_stderr = target(tmp_path, "err")
    cmdrun.run(
        print_input(),
        input=Secret(PASSWORD),
        tty=tty,
        timeout=20,
        stdout=stdout,  # type: ignore[arg-type]
        stderr=stderr,  # type: ignore[arg-type]
    )
    written = read_stdout()
    assert b"line: ******" in written
    assert_hidden(written, read_stderr())


@TRANSPORTS
def test_max_output_tail_never_cuts_into_a_secret(
    tty: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cmdrun")
    ending = "\r\n" if tty else "\n"
    # The last line is "line: PASSWORD": keep only the end of the password (and the newline).
    keep = len(PASSWORD) - 5 + len(ending)
    with pytest.raises(cmdrun.CommandFailed) as info:
        cmdrun.run(
            print_input(code=1), input=Secret(PASSWORD), tty=tty, timeout=20, max_output=keep
        )
    result = info.value.result
    assert result.stdout_dropped > 0
    assert result.stdout.endswith("*" + ending)
    assert_hidden(result.stdout, result.stderr, str(info.value), repr(info.value), caplog.text)


def test_respond_secret_never_reaches_callbacks_on_a_pty(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="cmdrun")
    lines: list[str] = []
    result = cmdrun.run(
        password_program("other", echo_input=True),
        respond={"User: ": "ann", "Password: ": Secret(PASSWORD)},
        tty=True,
        timeout=20,
        on_stdout=lines.append,
    )
    assert "you typed ******" in "".join(lines)
    assert_hidden(*lines, result.stdout, caplog.text)


def test_regex_expect_never_matches_part_of_a_slow_echo() -> None:
    """A program echoing the password one character at a time: a greedy regex run between
    two characters would match a prefix of it, unless cmdrun holds the prefix back."""
    with cmdrun.spawn(echo_slowly(), tty=False, timeout=20) as s:
        s.sendline(Secret(PASSWORD))
        s.expect("echo: ")
        found = s.expect(re.compile(r"\w+"))
        rest = s.read()
    assert found.text == "done"
    assert found.before == "******\n"
    assert_hidden(found.text, found.before, rest)


def test_multiline_secret_on_a_pty_is_masked_whole_and_by_line() -> None:
    secret = "first-Xq9z-alpha\nsecond-Kp4w-beta"
    lines: list[str] = []
    result = cmdrun.run(
        print_input(), input=Secret(secret), tty=True, timeout=20, on_stdout=lines.append
    )
    assert "line: ******" in result.stdout
    for part in secret.split("\n"):
        assert_hidden(result.stdout, *lines, secret=part)


def test_secret_state_cannot_be_read_or_copied_out() -> None:
    secret = Secret(PASSWORD)
    with pytest.raises(TypeError, match="cannot be pickled"):
        secret.__getstate__()
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        vars(secret)
    # Copies stay in the process: an immutable Secret copies as itself, like a str.
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"pw": secret})["pw"] is secret
    assert_hidden(repr(secret), str(secret), *dir(secret))


def _exceptions(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
    return seen


def assert_no_secret_in_traceback(exc: BaseException, secret: str = PASSWORD) -> None:
    """Nothing a traceback with locals shows (pytest --showlocals, rich) has the secret."""
    for error in _exceptions(exc):
        shown = [repr(error), str(error), repr(error.args)]
        tb = error.__traceback__
        while tb is not None:
            shown += [f"{name}={value!r}" for name, value in tb.tb_frame.f_locals.items()]
            tb = tb.tb_next
        assert_hidden(*shown, secret=secret)


def _failed_run() -> None:
    cmdrun.run(print_input(code=1), input=Secret(PASSWORD), timeout=20)


def _timed_out_run() -> None:
    cmdrun.run(py("import time; time.sleep(30)"), input=Secret(PASSWORD), timeout=0.2)


def _bad_argument_run() -> None:
    cmdrun.run(["true"], input=Secret(PASSWORD), dimensions=(0, 0))


def _missing_program_run() -> None:
    cmdrun.run(["/nonexistent/program"], input=Secret(PASSWORD))


def _bad_argument_spawn() -> None:
    cmdrun.spawn(["cat"], input=Secret(PASSWORD), dimensions=(0, 0))


def _session_eof() -> None:
    with cmdrun.spawn(print_input(), tty=False, timeout=20) as s:
        s.sendline(Secret(PASSWORD))
        s.sendeof()
        s.expect("never")


def _send_after_exit() -> None:
    with cmdrun.spawn(["true"], tty=False, timeout=20) as s:
        s.wait()
        s.sendline(Secret(PASSWORD))


FAILURES = [
    _failed_run,
    _timed_out_run,
    _bad_argument_run,
    _missing_program_run,
    _bad_argument_spawn,
    _session_eof,
    _send_after_exit,
]


def test_traceback_locals_never_show_a_secret() -> None:
    """Every way run(), spawn() and sendline() with a Secret can raise."""
    for fail in FAILURES:
        with pytest.raises(Exception) as info:  # noqa: PT011 - each path raises its own error
            fail()
        assert_no_secret_in_traceback(info.value)


UNENCODABLE = "pässwörd-Zq8x"


def test_unencodable_secret_fails_without_showing_it() -> None:
    with pytest.raises(ValueError, match="cannot be encoded") as info:
        cmdrun.run(["cat"], input=Secret(UNENCODABLE), encoding="ascii")
    assert_no_secret_in_traceback(info.value, UNENCODABLE)


def _fed(redact: Redactor, chunks: list[bytes], stream: str = "stdout") -> list[bytes]:
    delivered = [redact.feed(stream, chunk) for chunk in chunks]
    return [*delivered, redact.flush(stream)]


def test_redactor_never_delivers_part_of_a_secret_split_anywhere() -> None:
    data = f"a{PASSWORD}b {PASSWORD}{PASSWORD} s3c end s".encode()
    wanted = b"a******b ************ s3c end s"
    for cut in range(len(data) + 1):
        for second in range(cut, len(data) + 1):
            delivered = _fed(
                Redactor([Secret(PASSWORD)]), [data[:cut], data[cut:second], data[second:]]
            )
            assert b"".join(delivered) == wanted
            for piece in delivered:
                assert_hidden(piece)


def test_redactor_releases_a_held_prefix_once_it_is_not_a_secret() -> None:
    redact = Redactor([Secret(PASSWORD)])
    assert redact.feed("stdout", b"prompt s3cr") == b"prompt "
    assert redact.feed("stderr", b"other") == b"other"  # each stream holds its own tail
    assert redact.feed("stdout", b"ew") == b"s3crew"


def test_redactor_waits_when_a_secret_may_be_the_start_of_a_longer_one() -> None:
    redact = Redactor([Secret("abcd"), Secret("abcdefgh")])
    assert redact.feed("stdout", b"x abcd") == b"x "
    assert redact.feed("stdout", b"efgh y") == b"****** y"


def test_redactor_learns_secrets_while_running() -> None:
    redact = Redactor()
    assert redact.feed("stdout", b"hunter2") == b"hunter2"
    redact.add(Secret("hunter2\n"))
    assert b"".join(_fed(redact, [b"h", b"u", b"nter2\n"])) == b"******\n"


def test_redactor_masks_a_multiline_secret_as_typed_echoed_and_by_line() -> None:
    redact = Redactor([Secret("one-1\ntwo-2")])
    out = redact.feed("stdout", b"[one-1\ntwo-2] [one-1\r\ntwo-2] [two-2]") + redact.flush("stdout")
    assert out == b"[******] [******] [******]"
