"""Faking remote runs: ``register(..., host=)``, fake dialogues and cassettes on a Remote.

A test of code that fans out over SSH needs no sshd: these fakes make no connection (the
hosts named here do not exist). One test records a cassette against a real sshd and
replays it with none.
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
from pathlib import Path

import pytest

import cmdrun
from cmdrun import Remote
from cmdrun.testing import (
    ANY,
    Cassette,
    CassetteMiss,
    Exit,
    FakeCommands,
    In,
    Out,
    UnregisteredCommand,
)

sys.path.insert(0, str(Path(__file__).parent))
import sshd


def test_a_fake_answers_a_remote_run_and_makes_no_connection() -> None:
    remote = Remote("web1.invalid")
    with FakeCommands() as fake:
        fake.register(["uptime"], stdout="up 3 days\n", host="web1.invalid")
        result = remote.run(["uptime"])
    assert result.stdout == "up 3 days\n"
    assert result.host == "web1.invalid"
    assert result.args == ("uptime",)
    assert fake.calls[0].host == "web1.invalid"
    assert fake.calls[0].args == ("uptime",)
    assert not remote._connected  # no master connection: nothing was contacted
    remote.close()


def test_a_local_fake_does_not_answer_a_remote_call_nor_the_reverse() -> None:
    with FakeCommands() as fake, Remote("db.invalid") as remote:
        fake.register(["hostname"], stdout="here\n")
        fake.register(["hostname"], stdout="there\n", host="db.invalid")
        assert cmdrun.run(["hostname"]).stdout == "here\n"
        assert remote.run(["hostname"]).stdout == "there\n"
        with pytest.raises(UnregisteredCommand, match=r"on db\.invalid"):
            Remote("other.invalid").run(["hostname"])


def test_any_host_and_the_remote_cwd_and_env_reach_the_callback() -> None:
    seen = []

    def answer(call: object) -> str:
        seen.append(call)
        return "ok\n"

    with FakeCommands() as fake, Remote("a.invalid") as a:
        fake.register(["deploy", ANY], callback=answer, host=ANY)
        a.run(["deploy", "v2"], cwd="/srv/app", env={"STAGE": "prod"})
    call = seen[0]
    assert call.host == "a.invalid"  # type: ignore[attr-defined]
    assert call.cwd == "/srv/app"  # type: ignore[attr-defined]
    assert call.env == {"STAGE": "prod"}  # type: ignore[attr-defined]


def test_a_faked_remote_failure_and_timeout_read_as_real_ones() -> None:
    with FakeCommands() as fake, Remote("web2.invalid") as remote:
        fake.register(["migrate"], returncode=3, stderr="disk full\n", host="web2.invalid")
        fake.register(["slow"], duration=60, host="web2.invalid")
        with pytest.raises(cmdrun.CommandFailed, match=r"on web2\.invalid") as failed:
            remote.run(["migrate"])
        assert failed.value.result.returncode == 3
        with pytest.raises(cmdrun.CommandTimedOut, match=r"on web2\.invalid"):
            remote.run(["slow"], timeout=1)


def test_fan_out_code_is_tested_without_any_sshd() -> None:
    with FakeCommands() as fake:
        fake.register(["deploy"], stdout="done\n", host="web1.invalid")
        fake.register(["deploy"], returncode=2, stderr="locked\n", host="web2.invalid")
        fake.register(["deploy"], raises=cmdrun.ConnectionFailed, host="web3.invalid")
        results = cmdrun.run_on(["web1.invalid", "web2.invalid", "web3.invalid"], ["deploy"])
    assert [r.host for r in results] == ["web1.invalid", "web2.invalid", "web3.invalid"]
    assert [r.returncode for r in results] == [0, 2, 255]
    assert "Connection refused" in results[2].stderr


def test_arun_on_with_fakes() -> None:
    async def main() -> list[cmdrun.Result]:
        return await cmdrun.arun_on(["x.invalid", "y.invalid"], ["id", "-u"])

    with FakeCommands() as fake:
        fake.register(["id", "-u"], stdout="0\n", host=ANY)
        results = asyncio.run(main())
    assert [(r.host, r.stdout) for r in results] == [("x.invalid", "0\n"), ("y.invalid", "0\n")]


def test_a_fake_dialogue_on_a_remote_session() -> None:
    with FakeCommands() as fake, Remote("db.invalid") as remote:
        fake.register(
            ["sqlite3"],
            host="db.invalid",
            dialogue=[Out("sqlite> "), In("select 6*7;"), Out("42\nsqlite> "), Exit(0)],
        )
        with remote.spawn(["sqlite3"]) as db:
            db.expect("sqlite> ")
            db.sendline("select 6*7;")
            found = db.expect("sqlite> ")
            result = db.wait()
    assert "42" in found.before
    assert result.host == "db.invalid"


def test_a_remote_pipeline_is_faked_stage_by_stage() -> None:
    with FakeCommands() as fake, Remote("h.invalid") as remote:
        fake.register(["printf", "a\\nb\\n"], stdout="a\nb\n", host="h.invalid")
        fake.register(
            ["wc", "-l"], callback=lambda call: f"{call.input.count(chr(10))}\n", host="h.invalid"
        )
        result = remote.run(cmdrun.pipe(["printf", "a\\nb\\n"], ["wc", "-l"]))
    assert result.stdout == "2\n"
    assert result.host == "h.invalid"


@pytest.mark.skipif(bool(sshd.available()), reason=sshd.available() or "ok")
def test_a_cassette_records_remote_runs_and_replays_them_without_a_server(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "remote.json"
    with (
        sshd.servers(1) as servers,
        Cassette(path, record=True),
        Remote("host0", ssh_config=servers.ssh_config) as r,
    ):
        recorded = r.run(["sh", "-c", "echo from $(id -u); exit 3"], check=False)
        dialogue = r.spawn(["sh", "-c", "printf 'name? '; read n; echo hi $n"], tty=False)
        dialogue.expect("name? ")
        dialogue.sendline("ann")
        said = dialogue.wait()
    assert recorded.returncode == 3
    assert "host0" in path.read_text()
    # The servers are gone: replaying connects to nothing.
    with Cassette(path), Remote("host0") as r:
        replayed = r.run(["sh", "-c", "echo from $(id -u); exit 3"], check=False)
        with r.spawn(["sh", "-c", "printf 'name? '; read n; echo hi $n"], tty=False) as again:
            again.expect("name? ")
            again.sendline("ann")
            again_said = again.wait()
        with pytest.raises(CassetteMiss):
            Remote("host9").run(["sh", "-c", "echo from $(id -u); exit 3"], check=False)
        assert not r._connected
    assert replayed.stdout == recorded.stdout
    assert replayed.returncode == 3
    assert replayed.host == "host0"
    assert again_said.stdout == said.stdout
