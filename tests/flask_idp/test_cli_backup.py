"""``hideez-idp key-account export|import`` through ``main()`` on the demo's SQLite database:
a backup moved to another employee with the conflict report, and the refusals (wrong
passphrase, a damaged file, a short passphrase) with one ``error:`` line and nothing stored."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare

PASS = "the backup passphrase\n"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One server for both tests (the refusals restore to carol, who stays empty)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HIDEEZ_IDP_CONFIG", "")
        yield _prepared(tmp_path_factory.mktemp("cli-backup"))


def _prepared(tmp_path: Path) -> Path:
    os.environ["HIDEEZ_IDP_CONFIG"] = str(prepare(tmp_path / "demo", port=18082, sp_port=18083))
    for name in ("alice", "bob", "carol"):
        assert main(["employee", "add", name, "--email", f"{name}@corp.example"]) == 0
    (tmp_path / "pw").write_text("s3cret-pw\n")
    (tmp_path / "pass").write_text(PASS)
    for name in ("GitHub", "GitLab"):
        assert main(["key-account", "add", "--employee", "alice", "--name", name, "--login",
                     "dev", "--url", f"https://{name.lower()}.com",
                     "--password-file", str(tmp_path / "pw")]) == 0  # fmt: skip
    return tmp_path


def _lines(capsys: pytest.CaptureFixture[str], *args: str, status: int = 0) -> list[str]:
    capsys.readouterr()
    assert main(list(args)) == status
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return (captured.out if status == 0 else captured.err).strip().splitlines()


def test_export_then_import_with_skip_and_replace(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, pass_file = workdir / "alice.hkbak", str(workdir / "pass")
    done = _lines(capsys, "key-account", "export", "--employee", "alice", "--out", str(out),
                  "--passphrase-file", pass_file)  # fmt: skip
    assert done == [f"2 accounts of alice written to {out}"]
    assert out.read_bytes().startswith(b"HIDKBAK\n") and b"s3cret-pw" not in out.read_bytes()
    first = _lines(capsys, "key-account", "import", str(out), "--employee", "bob",
                   "--on-conflict", "skip", "--passphrase-file", pass_file)  # fmt: skip
    assert first[-1].startswith("backup of alice (") and first[-1].endswith(
        "restored to bob: 2 added, 0 replaced, 0 skipped")  # fmt: skip
    assert first[0].split()[:2] == ["added", "GitHub"]
    capsys.readouterr()
    assert main(["key-account", "import", str(out), "--employee", "bob", "--on-conflict",
                 "skip", "--passphrase-file", pass_file, "--json"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert [a["action"] for a in report["accounts"]] == ["skipped", "skipped"]
    replaced = _lines(capsys, "key-account", "import", str(out), "--employee", "bob",
                      "--on-conflict", "replace", "--passphrase-file", pass_file)  # fmt: skip
    assert replaced[-1].endswith("0 added, 2 replaced, 0 skipped")
    listed = _lines(capsys, "key-account", "list", "--employee", "bob")
    assert listed[-1] == "2 accounts"


def test_refusals_store_nothing(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, pass_file = workdir / "alice2.hkbak", str(workdir / "pass")
    main(["key-account", "export", "--employee", "alice", "--out", str(out),
          "--passphrase-file", pass_file])  # fmt: skip
    (workdir / "wrong").write_text("another passphrase")
    (workdir / "short").write_text("short")
    (workdir / "cut.hkbak").write_bytes(out.read_bytes()[:-40])
    cases = {
        ("import", str(out), "--passphrase-file", str(workdir / "wrong")): "passphrase does not",
        ("import", str(workdir / "cut.hkbak"), "--passphrase-file", pass_file): "changed after",
        ("import", str(workdir / "none"), "--passphrase-file", pass_file): "cannot read it",
        ("export", "--out", str(workdir / "x"), "--passphrase-file", str(workdir / "short")):
            "at least 12 characters",
    }  # fmt: skip
    for args, message in cases.items():
        extra = ("--on-conflict", "skip") if args[0] == "import" else ()
        (line,) = _lines(capsys, "key-account", *args, "--employee", "carol", *extra, status=2)
        assert line.startswith("error: ") and message in line, line
    assert _lines(capsys, "key-account", "list", "--employee", "carol") == ["0 accounts"]
    (line,) = _lines(capsys, "key-account", "export", "--employee", "nobody", "--out",
                     str(workdir / "y"), "--passphrase-file", pass_file, status=2)  # fmt: skip
    assert "no employee 'nobody'" in line
