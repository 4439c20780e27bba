"""Ctrl-C (SIGINT): every command exits 130 (docs/compliance.md "Exit codes") and says, on one stderr line,
that it was interrupted. Typer turned the KeyboardInterrupt into a silent exit 130, so the "interrupted" the
entry point meant to print was never printed; a prompt turned it into "aborted", exit 2."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import typer

from tests.cli import CliResult
from xzgov.cli.main import INTERRUPTED_MESSAGE
from xzgov.crypto import vault
from xzgov.crypto.vault import VaultKey, write_vault_key

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "xzgov"


def _xzgov(*args: str | Path) -> list[str]:
    """The console script a user runs (or the same entry point through this interpreter)."""
    if SCRIPT.exists():
        return [str(SCRIPT), *map(str, args)]
    return [sys.executable, "-c", "from xzgov.cli.main import program; program()", *map(str, args)]


def _default_sigint() -> None:
    # A job started in the background (`cmd &`) inherits SIGINT ignored, and Python then installs no handler.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _read_until(stream: object, needle: bytes, seconds: float) -> bytes:
    """What ``stream`` gave until it held ``needle`` (or ``seconds`` passed)."""
    seen = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)  # type: ignore[arg-type]
        deadline = time.monotonic() + seconds
        while needle not in seen and time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                chunk = os.read(stream.fileno(), 4096)  # type: ignore[attr-defined]
                if not chunk:
                    break
                seen += chunk
    return seen


def test_sigint_to_a_running_command_prints_interrupted_and_exits_130(tmp_path: Path) -> None:
    """`vault encrypt-string` warns on stderr, then blocks reading its standard input (kept open): SIGINT
    reaches it inside the command, whatever the machine's speed."""
    key_file = tmp_path / "vault.key"
    write_vault_key(key_file, VaultKey.generate())
    env = {k: v for k, v in os.environ.items() if not k.startswith("XZGOV_")} | {"COLUMNS": "200"}
    process = subprocess.Popen(
        _xzgov("vault", "encrypt-string", "--field", "db.password", "--key-file", key_file),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env,
        preexec_fn=_default_sigint,
    )
    try:
        before = _read_until(process.stderr, b"no --file/--scope", 60)
        assert b"no --file/--scope" in before, before
        process.send_signal(signal.SIGINT)
        out, rest = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    err = (before + rest).decode("utf-8")
    assert process.returncode == 130, err
    assert out == b"", out  # no value printed
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == INTERRUPTED_MESSAGE, err
    assert lines[-1].startswith("interrupted") and "Traceback" not in err


def test_an_interrupt_inside_a_command_is_reported(
        tmp_path: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(vault, "load_vault_key", interrupted)
    code, out, err = cli("vault", "encrypt-string", "--field", "x", "--key-file", tmp_path / "k")
    assert code == 130 and out == ""
    assert err.strip().splitlines()[-1] == INTERRUPTED_MESSAGE, err


@pytest.mark.parametrize(("raised", "code", "said"), [(KeyboardInterrupt, 130, INTERRUPTED_MESSAGE),
                                                      (EOFError, 2, "aborted")])
def test_ctrl_c_at_a_prompt_is_an_interrupt_and_end_of_input_an_abort(
        tmp_path: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch,
        raised: type[BaseException], code: int, said: str) -> None:
    """A prompt (a passphrase) turns Ctrl-C into ``Abort`` ("aborted", exit 2): Ctrl-C is 130 there too."""

    def prompt(*_: object, **__: object) -> None:  # what click's prompt does with either
        try:
            raise raised
        except (KeyboardInterrupt, EOFError):
            raise typer.Abort() from None

    monkeypatch.setattr(vault, "load_vault_key", prompt)
    result = cli("vault", "encrypt-string", "--field", "x", "--key-file", tmp_path / "k")
    assert result.code == code and result.err.strip().splitlines()[-1] == said, result


def test_python_dash_m_xzgov_is_the_command() -> None:
    """``python -m xzgov`` runs the same entry point as the console script (exit codes included)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XZGOV_")}
    helped = subprocess.run([sys.executable, "-m", "xzgov", "--help"], capture_output=True, text=True, env=env,
                            cwd=REPO, check=False)
    assert helped.returncode == 0 and "Usage: xzgov" in helped.stdout, helped.stderr
    unknown = subprocess.run([sys.executable, "-m", "xzgov", "standards", "show", "NOPE"], capture_output=True,
                             text=True, env=env, cwd=REPO, check=False)
    assert unknown.returncode == 2 and "unknown id" in unknown.stderr


def test_the_sigterm_handler_is_the_command_lines_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run`` handles SIGTERM only in the main thread (elsewhere Python delivers no signal, and setting a handler
    raised ValueError), puts the previous handler back when the command ends, and a server (``cryptosvc serve``)
    keeps the default: uvicorn drains on SIGTERM and raises it again, which must end the process as a clean stop,
    not as "terminated before it finished" (exit 143)."""
    import threading

    import xzgov.cryptosvc.__main__ as server
    from xzgov.cli import main

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit):
        main.run(["--help"])
    assert signal.getsignal(signal.SIGTERM) == before
    failures: list[BaseException] = []

    def in_thread() -> None:
        try:
            main.run(["--help"])
        except SystemExit:
            pass
        except BaseException as error:
            failures.append(error)

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join(30)
    assert failures == []
    seen: list[object] = []
    monkeypatch.setattr(server, "main", lambda argv: seen.append(signal.getsignal(signal.SIGTERM)) or 0)
    with pytest.raises(SystemExit) as done:
        main.run(["cryptosvc", "serve", "--config", "config.yml"])
    assert done.value.code == 0 and seen == [signal.SIG_DFL]
    signal.signal(signal.SIGTERM, before if before is not None else signal.SIG_DFL)


@pytest.mark.parametrize(("signum", "uncommitted"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupt_once_the_change_is_filed_lets_the_command_finish(
    region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int, uncommitted: int
) -> None:
    """A signal just after `onboard` filed the manifest and the inventories made it exit 143/130 saying it
    "stopped before it finished" — with the change in place. Once committed, the command finishes (exit 0); a
    signal before the commit still unwinds with nothing written."""
    from tests.register.test_onboard import NEW
    from xzgov.cli import main
    from xzgov.core import transaction

    draft = tmp_path / "permit.yaml"
    draft.write_text(NEW, encoding="utf-8")
    real = transaction.FileTransaction.commit
    before = signal.getsignal(signum)

    def then_signal(self: transaction.FileTransaction) -> list[Path]:
        written = real(self)
        os.kill(os.getpid(), signum)  # delivered to this (main) thread before the next line runs
        return written

    monkeypatch.setattr(transaction.FileTransaction, "commit", then_signal)
    with pytest.raises(SystemExit) as done:
        main.run(["onboard", str(draft), "--root", str(region)])
    assert done.value.code == 0
    assert (region / "systems/gat/permit.yaml").read_text(encoding="utf-8") == NEW
    assert signal.getsignal(signum) == before  # the command's handlers are gone with it

    def signal_first(self: transaction.FileTransaction) -> list[Path]:
        os.kill(os.getpid(), signum)
        return real(self)

    monkeypatch.setattr(transaction.FileTransaction, "commit", signal_first)
    other = NEW.replace("permit", "visa").replace("10.67.9.10", "10.67.9.12").replace("-23009", "-23010")
    draft.write_text(other, encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main.run(["onboard", str(draft), "--root", str(region)])
    assert done.value.code == uncommitted and not (region / "systems/gat/visa.yaml").exists()


@pytest.mark.parametrize(("signum", "killed"), [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, -signal.SIGINT),
                                                (signal.SIGHUP, -signal.SIGHUP)])
@pytest.mark.parametrize("when", ["exit handler", "finalization"])
def test_a_signal_while_the_program_shuts_down_keeps_its_exit_code(signum: int, killed: int, when: str) -> None:
    """Once the exit code is decided the interpreter still shuts down (half a second after a large plan): a signal
    then killed the process (130/143/129) after a change that was complete — also with Python handlers installed,
    since the finalization puts the default ones back before it frees the objects. The program exits with its own
    code. The signal is sent from an exit handler, or from an object freed by the finalization."""
    late = (("import atexit, os, signal, time\n"
             f"atexit.register(lambda: (os.kill(os.getpid(), {int(signum)}), time.sleep(2)))\n")
            if when == "exit handler" else
            ("import os, signal, time\n"
             "class Late:\n"
             f"    def __del__(self): os.kill(os.getpid(), {int(signum)}); time.sleep(2)\n"
             "late = Late()\n"))
    late += ("signal.signal(signal.SIGINT, signal.default_int_handler)\n"
             "from xzgov.cli.main import program\n"
             "program()\n")
    # run (in-process callers) puts the default handlers back: SIGTERM and SIGHUP kill it there (a KeyboardInterrupt
    # raised inside an exit handler or a __del__ is only printed, so SIGINT shows the difference only while unwinding)
    for entry, expected in (("program", 0), *((("run", killed),) if signum != signal.SIGINT else ())):
        done = subprocess.run([sys.executable, "-c", late.replace("program", entry), "--help"], capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == expected, (entry, done.returncode, done.stderr)
        assert "Usage" in done.stdout


def _a_folder_to_sign(tmp_path: Path) -> tuple[Path, Path]:
    """A signing key under ``keys/`` and a folder ``signed/`` with one file (its bundle goes inside it)."""
    from xzgov.cli import main

    keys_dir, folder = tmp_path / "keys", tmp_path / "signed"
    keys_dir.mkdir()
    folder.mkdir()
    (folder / "a.txt").write_text("a\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        main.run(["keys", "generate", str(keys_dir / "k.pem")])
    return keys_dir / "k.pem", folder


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_as_a_file_is_staged_leaves_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          signum: int) -> None:
    """A signal right after a temporary file was created (before it was recorded for removal, or before its
    install) left `.NAME.<hex>.tmp` behind: a signed bundle's folder then failed verification (an added file), a
    `cryptosvc init` folder held a master key nobody knew of. The signal now waits until the temporary is named,
    then the command stops (exit 130/143) with nothing written and no temporary left: `sign`, a skeleton
    (`onboard --template`), `cryptosvc init` (five files staged together) and `vault encrypt` of several files."""
    from xzgov.cli import main
    from xzgov.core import fsutil

    real = fsutil.stage_file

    def then_signal(*args: object, **kwargs: object) -> str:
        temporary = real(*args, **kwargs)  # type: ignore[arg-type]
        os.kill(os.getpid(), signum)  # delivered before the caller records the name
        return temporary

    before = signal.getsignal(signum)
    key, folder = _a_folder_to_sign(tmp_path)
    vaulted = tmp_path / "vaulted"
    vaulted.mkdir()
    write_vault_key(vaulted / "v.key", VaultKey.generate())
    for name in ("a.yml", "b.yml", "c.yml"):
        (vaulted / name).write_text("token: abc\n", encoding="utf-8")
    monkeypatch.setattr(fsutil, "stage_file", then_signal)
    with pytest.raises(SystemExit) as done:
        main.run(["sign", str(folder), "--key", str(key), "--out", str(folder / "xzgov-bundle.json")])
    assert done.value.code == (130 if signum == signal.SIGINT else 143)
    assert [p.name for p in folder.iterdir()] == ["a.txt"]
    draft = tmp_path / "draft.yaml"
    with pytest.raises(SystemExit) as done:
        main.run(["onboard", "--root", str(REPO), "--template", "workload", str(draft)])
    assert done.value.code == (130 if signum == signal.SIGINT else 143)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys", "signed", "vaulted"]
    etc = tmp_path / "etc"
    with pytest.raises(SystemExit) as done:
        main.run(["cryptosvc", "init", str(etc), "--state-dir", str(tmp_path / "state"), "--system", "dept-a"])
    assert done.value.code == (130 if signum == signal.SIGINT else 143)
    assert not etc.exists() or list(etc.iterdir()) == []
    with pytest.raises(SystemExit) as done:
        main.run(["vault", "encrypt", *(str(vaulted / n) for n in ("a.yml", "b.yml", "c.yml")), "--key-file",
                  str(vaulted / "v.key")])
    assert done.value.code == (130 if signum == signal.SIGINT else 143)
    assert sorted(p.name for p in vaulted.iterdir()) == ["a.yml", "b.yml", "c.yml", "v.key"]
    assert all((vaulted / n).read_text(encoding="utf-8") == "token: abc\n" for n in ("a.yml", "b.yml", "c.yml"))
    assert signal.getsignal(signum) == before


def test_a_section_in_another_thread_never_takes_the_main_threads_signal() -> None:
    """The deferral is the main thread's (where Python runs signal handlers): a worker writing a file (a crypto
    service request) took a hang-up meant for the main thread, which never unwound."""
    import threading

    from xzgov.core import errors

    entered, release = threading.Event(), threading.Event()

    def worker() -> None:
        with errors.signals_deferred():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert entered.wait(10)
        assert errors.defer_interrupt(KeyboardInterrupt()) is False  # the main thread raises it itself
    finally:
        release.set()
        thread.join(10)
    with errors.signals_deferred():
        assert errors.defer_interrupt(KeyboardInterrupt()) is True  # the main thread's own section defers it
        errors.committed()  # (dropped: committed)
    errors.reset_committed()


def test_a_signal_once_the_bundle_is_written_lets_sign_finish(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`xzgov sign` re-reads every file to verify the bundle it wrote (40 % of a run): a signal then said
    "interrupted" (exit 130) with the new bundle in place. Once written, the command finishes (exit 0)."""
    from xzgov.cli import main
    from xzgov.crypto import bundle

    key, folder = _a_folder_to_sign(tmp_path)
    real = bundle.verify_bundle

    def signal_first(*args: object, **kwargs: object) -> object:
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bundle, "verify_bundle", signal_first)
    with pytest.raises(SystemExit) as done:
        main.run(["sign", str(folder), "--key", str(key), "--out", str(folder / "xzgov-bundle.json")])
    assert done.value.code == 0 and (folder / "xzgov-bundle.json").is_file()


def test_a_signal_while_a_key_is_installed_keeps_a_matching_pair(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal while one half of a key pair is renamed into place: held until after the rename, the command's
    own put-back (which undoes a half written when the other fails) no longer knew the half was written, and the
    pair on disk did not match. An ordinary file's install is interrupted where the signal lands."""
    from xzgov.cli import main
    from xzgov.core import fsutil
    from xzgov.crypto import keys

    key = tmp_path / "k.pem"
    with pytest.raises(SystemExit):
        main.run(["keys", "generate", str(key)])
    real = fsutil.install_file

    def signal_first(folder: int, temporary: str, name: str, **kwargs: object) -> None:
        if name == "k.pem":
            os.kill(os.getpid(), signal.SIGINT)
        real(folder, temporary, name, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fsutil, "install_file", signal_first)
    with pytest.raises(SystemExit) as done:
        main.run(["keys", "generate", str(key), "--force"])
    assert done.value.code == 130
    private, public = keys.load_private_key(key, None), keys.load_public_key(tmp_path / "k.pub.pem")
    assert keys.fingerprint(private.public_key) == keys.fingerprint(public)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.pem", "k.pub.pem"]
