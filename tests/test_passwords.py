"""Passwords typed on a terminal never race the program turning echo off.

A program that prints its prompt and then turns echo off with ``TCSAFLUSH`` (gpg's loopback
pinentry, anything reading ``/dev/tty`` the classic way) throws away what was typed before
that call. cmdrun waits for echo off before it types a Secret on a PTY.
"""

from __future__ import annotations

import os
import pathlib
import shutil
from collections.abc import Iterator

import pytest

import cmdrun
from children import echo_report, py, tty_password_reader
from cmdrun import Secret

PASSWORD = "s3cr3t-Pa55"
TRIES = 200


def _lost(stdout: str) -> int:
    assert "lost=" in stdout, stdout
    return int(stdout.rsplit("lost=", 1)[1].split(maxsplit=1)[0])


def test_respond_secret_is_never_lost_by_a_tty_reader() -> None:
    result = cmdrun.run(
        tty_password_reader(TRIES, PASSWORD),
        tty=True,
        respond={"Password: ": Secret(PASSWORD)},
        timeout=120,
    )
    assert _lost(result.stdout) == 0
    assert result.stdout.count("ok") == TRIES


def test_sendline_secret_after_the_prompt_is_never_lost() -> None:
    with cmdrun.spawn(tty_password_reader(TRIES, PASSWORD), timeout=30) as session:
        for _ in range(TRIES):
            session.expect("Password: ")
            session.sendline(Secret(PASSWORD))
            assert session.expect("ok", "wrong", "lost").text == "ok"
        session.expect("lost=0")


def test_session_input_secret_waits_for_the_prompt() -> None:
    with cmdrun.spawn(
        tty_password_reader(1, PASSWORD), input=Secret(PASSWORD + "\n"), timeout=30
    ) as session:
        session.expect("lost=")
        assert session.read().strip() == "0"
        result = session.wait()
    assert "ok" in result.stdout


def test_run_tty_input_secret_reaches_a_reader_that_flushes_on_start() -> None:
    for _ in range(20):
        result = cmdrun.run(
            tty_password_reader(1, PASSWORD), tty=True, input=Secret(PASSWORD + "\n"), timeout=30
        )
        assert _lost(result.stdout) == 0
        assert PASSWORD not in result.stdout


def test_wait_noecho_sees_the_program_turn_echo_off() -> None:
    late_reader = py(
        """
        import time, termios
        time.sleep(0.3)
        attrs = termios.tcgetattr(0)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(0, termios.TCSANOW, attrs)
        print("got", len(input()))
        """
    )
    with cmdrun.spawn(late_reader, timeout=30) as session:
        assert session.wait_noecho(timeout=20) is True
        session.sendline("hush")
        session.expect("got 4")
        assert "hush" not in session.wait().stdout


def test_wait_noecho_gives_up_after_its_timeout() -> None:
    with cmdrun.spawn(["cat"], timeout=30) as session:
        assert session.wait_noecho(timeout=0.2) is False
        session.sendline("still here")
        session.expect("still here")


def test_wait_noecho_on_pipes_is_true_at_once() -> None:
    with cmdrun.spawn(["cat"], tty=False, timeout=30) as session:
        assert session.wait_noecho(timeout=0.01) is True


def test_spawn_echo_false_never_echoes_the_first_line() -> None:
    for _ in range(20):
        with cmdrun.spawn(echo_report(), echo=False, timeout=30) as session:
            session.sendline("hello")
            result = session.wait()
        assert "echo off" in result.stdout
        assert result.stdout.count("hello") == 1, result.stdout


def test_spawn_echo_defaults_to_on() -> None:
    with cmdrun.spawn(echo_report(), timeout=30) as session:
        session.expect("echo on")
        session.sendline("hello")
        assert session.wait().stdout.count("hello") == 2


#: No passphrase cache: every run must be asked, and answered, again.
GPG = ["gpg", "--no-symkey-cache", "--pinentry-mode", "loopback"]
needs_gpg = pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")


@pytest.fixture
def gnupghome(tmp_path: pathlib.Path) -> Iterator[dict[str, str]]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(home)}
    yield env
    cmdrun.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False, timeout=30)


@needs_gpg
def test_gpg_loopback_passphrase_is_never_lost(
    tmp_path: pathlib.Path, gnupghome: dict[str, str]
) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("the message\n")
    secret = Secret(PASSWORD)
    for i in range(20):
        sealed = tmp_path / f"sealed{i}.gpg"
        cmdrun.run(
            [*GPG, "--symmetric", "-o", str(sealed), str(plain)],
            tty=True,
            env=gnupghome,
            respond={"Enter passphrase: ": secret},
            timeout=30,
        )
        with cmdrun.spawn([*GPG, "-d", str(sealed)], env=gnupghome, timeout=30) as session:
            session.expect("Enter passphrase: ")
            session.sendline(secret)
            assert "the message" in session.wait().stdout


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_ssh_keygen_changes_a_passphrase_every_time(tmp_path: pathlib.Path) -> None:
    key = tmp_path / "key"
    cmdrun.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "old0", "-f", str(key)], timeout=30)
    for i in range(5):
        cmdrun.run(
            ["ssh-keygen", "-p", "-f", str(key)],
            tty=True,
            respond={
                "Enter old passphrase: ": Secret(f"old{i}"),
                "Enter new passphrase (empty for no passphrase): ": Secret(f"old{i + 1}"),
                "Enter same passphrase again: ": Secret(f"old{i + 1}"),
            },
            timeout=30,
        )
    check = cmdrun.run(["ssh-keygen", "-y", "-P", "old5", "-f", str(key)], timeout=30)
    assert check.stdout.startswith("ssh-ed25519 ")
    assert os.path.exists(key)
