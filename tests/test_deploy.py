"""The operator files under deploy/: the systemd units pass `systemd-analyze verify`, and
the cron line, the units and the logrotate example agree with each other."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).parents[1] / "deploy"
UNITS = ["cdr-nightly.service", "cdr-nightly.timer", "cdr-alert@.service"]
JOB = DEPLOY / "bin" / "cdr-nightly-job"
"""The script the cron line runs."""


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / name, encoding="utf-8")
    return parser


def exec_start() -> list[str]:
    return shlex.split(unit("cdr-nightly.service")["Service"]["ExecStart"])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    cdr = Path(sys.executable).parent / "cdr"
    assert cdr.is_file()
    for name in UNITS:
        text = (DEPLOY / "systemd" / name).read_text(encoding="utf-8")
        # verify checks that the command exists: point it at this environment's cdr
        (tmp_path / name).write_text(text.replace("/srv/cdr/.venv/bin/cdr", str(cdr)), "utf-8")
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(f"./{n}" for n in UNITS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    # and the check can fail: a misspelt key is reported
    service = tmp_path / UNITS[0]
    service.write_text(service.read_text("utf-8") + "SuccesExitStatus=0\n", "utf-8")
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"./{UNITS[0]}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Unknown key" in proc.stderr


def test_service_runs_nightly_as_a_service_user_and_alerts_on_failure() -> None:
    service = unit("cdr-nightly.service")
    assert service["Unit"]["OnFailure"].startswith("cdr-alert@")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["User"] == "cdr"
    assert "SuccessExitStatus" not in service["Service"]  # every non-zero code alerts
    args = exec_start()
    assert args[0].endswith("/.venv/bin/cdr") and "--log-json" in args and "nightly" in args
    # JSON log lines and the summary table go to separate files
    out = service["Service"]["StandardOutput"]
    err = service["Service"]["StandardError"]
    assert out.startswith("append:") and err.startswith("append:") and out != err
    assert unit("cdr-nightly.timer")["Timer"]["Persistent"] == "true"
    # a missed run starts at boot: after the clock is set, not with the clock the machine
    # booted with
    assert "time-sync.target" in service["Unit"]["After"].split()
    # which waits only where systemd-time-wait-sync runs (shipped disabled): the install
    # steps enable it, and say what happens without it
    operations = (DEPLOY.parent / "docs" / "operations.md").read_text("utf-8")
    assert "systemctl enable systemd-time-wait-sync.service" in operations


def test_cron_line_matches_the_unit_and_splits_its_outputs() -> None:
    lines = [
        ln
        for ln in (DEPLOY / "cron" / "cdr-nightly").read_text("utf-8").splitlines()
        if ln.strip() and not ln.startswith("#") and "=" not in ln.split()[0]
    ]
    assert len(lines) == 1
    fields = lines[0].split(None, 6)
    assert fields[:5] == ["30", "2", "*", "*", "*"] and fields[5] == "cdr"
    # the job is a script outside /srv/cdr (it must run when /srv/cdr is not mounted):
    # the line has nothing of Vixie cron's 1,000 characters (MAX_COMMAND) to run out of
    assert fields[6] == f"/usr/local/bin/{JOB.name}"
    assert JOB.stat().st_mode & 0o111  # installed as it is, executable
    (run,) = [
        ln for ln in JOB.read_text("utf-8").splitlines() if ln.startswith("./.venv/bin/cdr --log")
    ]
    args = shlex.split(run)
    stdout = next(a for a in args if a.startswith(">>"))[2:]
    stderr = next(a for a in args if a.startswith("2>>"))[3:]
    assert stdout != stderr and stderr.endswith(".jsonl")
    flags = [a for a in args if not a.startswith((">>", "2>>"))]
    assert flags[1:] == exec_start()[1:]  # the same job as the systemd unit
    operations = (DEPLOY.parent / "docs" / "operations.md").read_text("utf-8")
    assert f"install -m 755 /srv/cdr/app/deploy/bin/{JOB.name} /usr/local/bin/" in operations


def test_logrotate_covers_every_log_the_job_writes() -> None:
    text = (DEPLOY / "logrotate" / "cdr").read_text("utf-8")
    header = next(ln for ln in text.splitlines() if ln.endswith("{"))
    patterns = header.rstrip("{").split()
    service = unit("cdr-nightly.service")["Service"]
    for target in (service["StandardOutput"], service["StandardError"]):
        path = Path(target.removeprefix("append:"))
        assert any(path.match(p) for p in patterns), (path, patterns)
    assert "rotate " in text and "compress" in text


def cron_command(home: Path, logs: Path) -> str:
    """The cron job's script (`/usr/local/bin/cdr-nightly-job`) as sh runs it, on `home` and
    `logs`."""
    script = JOB.read_text("utf-8")
    return script.replace("/srv/cdr", str(home)).replace("/var/log/cdr", str(logs))


@pytest.mark.parametrize("code", [0, 3])
def test_cron_line_prints_a_line_to_mail_only_when_the_run_fails(tmp_path: Path, code: int) -> None:
    """Both outputs go to files, so cron would mail nothing even for a failed run: the line
    ends with an echo that it mails then, and only then. Run for real by sh, with cdr
    replaced by a stand-in that writes to both outputs and exits `code`."""
    home, logs = tmp_path / "srv", tmp_path / "log"
    (home / ".venv" / "bin").mkdir(parents=True)
    logs.mkdir()
    stand_in = home / ".venv" / "bin" / "cdr"
    # it starts (`cdr --version`, which the line tries first, exits 0), then writes and exits
    stand_in.write_text(
        f"#!/bin/sh\n[ \"$1\" = --version ] && exit 0\necho table\necho '{{}}' >&2\nexit {code}\n"
    )
    stand_in.chmod(0o755)
    command = cron_command(home, logs)
    proc = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=60)
    assert (logs / "nightly-summary.log").read_text() == "table\n"
    assert (logs / "nightly.jsonl").read_text() == "{}\n"
    if code == 0:
        assert proc.stdout == "" and proc.returncode == 0
    else:
        assert f"cdr nightly failed with exit {code} on " in proc.stdout
        assert str(logs / "nightly.jsonl") in proc.stdout


@pytest.mark.parametrize(("signal", "name"), [(9, "SIGKILL"), (15, "SIGTERM")])
def test_cron_job_ends_the_summary_log_for_a_run_killed_by_a_signal(
    tmp_path: Path, signal: int, name: str
) -> None:
    """cdr killed by a signal it cannot catch (kill -9, the OOM killer; a SIGTERM before
    Python ran cdr's code) writes no line: cron mailed exit 137, a code no table documented,
    and the summary log's tail still read the night before's `exit 0`, so the morning check
    said all was well. The job now ends the log with the night's line naming the signal.
    Run by sh, with a stand-in for cdr that the signal kills."""
    home, logs = _killed_cdr(tmp_path, signal)
    summary = logs / "nightly-summary.log"
    summary.write_text("cdr nightly 2026-12-04: exit 0\n")
    proc = subprocess.run(
        ["/bin/sh", "-c", cron_command(home, logs)], capture_output=True, text=True, timeout=60
    )
    code = 128 + signal
    assert proc.returncode == code
    last = summary.read_text().splitlines()[-1]
    killed = f"killed by signal {signal} ({name})"
    assert re.fullmatch(rf"cdr nightly \d{{4}}-\d\d-\d\d: exit {code} \(interrupted: .*\)", last)
    assert killed in last and last.endswith("run it again to complete the work)")
    assert proc.stdout.startswith(f"cdr nightly failed with exit {code} on ")
    assert killed in proc.stdout and proc.stdout.count("\n") == 1
    # the code is documented wherever exit codes are listed: README's two tables, the nightly's
    readme = (DEPLOY.parent / "README.md").read_text("utf-8")
    operations = (DEPLOY.parent / "docs" / "operations.md").read_text("utf-8")
    design = (DEPLOY.parent / "docs" / "design.md").read_text("utf-8")
    assert readme.count("\n| 137, 143 |") == 2 and operations.count("\n| 137, 143 |") == 1
    assert "\n| 137, 143 |" in design


def test_the_alert_mails_the_jobs_own_logs() -> None:
    """The job's output goes to files, not the journal: the alert's mail must hold them."""
    alert = unit("cdr-alert@.service")["Service"]["ExecStart"]
    service = unit("cdr-nightly.service")["Service"]
    for target in (service["StandardOutput"], service["StandardError"]):
        assert f"tail -n 30 {target.removeprefix('append:')}" in alert


def _cron_night(home: Path, logs: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """The cron line run by sh after a night that ended `exit 0`: its output, and the summary
    log's last line, which must be a night's line stopped with exit 3."""
    (logs / "nightly-summary.log").write_text("cdr nightly 2026-12-04: exit 0\n")
    proc = subprocess.run(
        ["/bin/sh", "-c", cron_command(home, logs)], capture_output=True, text=True, timeout=60
    )
    last = (logs / "nightly-summary.log").read_text().splitlines()[-1]
    assert re.fullmatch(r"cdr nightly \d{4}-\d\d-\d\d: exit 3 \(stopped: .*\)", last), last
    return proc, last


def test_cron_line_ends_the_summary_log_when_its_folder_is_gone(tmp_path: Path) -> None:
    """`cd /srv/cdr` failing (its disk not mounted, the folder moved) ran no cdr: the
    summary log's tail still read the night before's `exit 0` line, and the mailed line
    said exit 2 (sh's code for a failed cd, a usage error in the table). The line now ends
    the summary log with the night's line, exit 3, and the mail says exit 3."""
    home, logs = tmp_path / "srv", tmp_path / "log"
    logs.mkdir()
    proc, last = _cron_night(home, logs)
    assert f"cannot enter the working folder {home}: mount or restore it" in last
    assert "cdr nightly failed with exit 3 on " in proc.stdout
    assert not (logs / "nightly.jsonl").exists()  # no cdr ran: nothing of its log


def test_cron_line_ends_the_summary_log_when_cdr_does_not_start(tmp_path: Path) -> None:
    """A virtual environment gone or broken (an upgrade of the system's Python removed the
    interpreter it links to): sh could not start cdr, wrote 'not found' into nightly.jsonl,
    a line that is not JSON (jq stops there: the documented search for errors failed),
    left the summary log's tail at the night before's `exit 0`, and mailed exit 127, a code
    no table documents. The line now ends the summary log with the night's line, exit 3."""
    home, logs = tmp_path / "srv", tmp_path / "log"
    (home / ".venv" / "bin").mkdir(parents=True)
    logs.mkdir()
    broken = home / ".venv" / "bin" / "cdr"
    broken.write_text("#!/nonexistent/python3\n")  # the interpreter the venv linked to, gone
    broken.chmod(0o755)
    (logs / "nightly.jsonl").write_text('{"level": "info"}\n')
    proc, last = _cron_night(home, logs)
    assert f"{broken} does not start: reinstall it" in last
    assert "cdr nightly failed with exit 3 on " in proc.stdout
    assert (logs / "nightly.jsonl").read_text() == '{"level": "info"}\n'


def test_cron_line_says_what_to_do_when_its_log_folder_is_missing(tmp_path: Path) -> None:
    """/var/log/cdr missing (not made at install, or removed): sh could not open the logs,
    ran nothing and mailed `cdr nightly failed with exit 2` (a usage error in the table)
    pointing at two log files that did not exist. The line now stops at once with exit 6
    (the machine cannot take a write) and mails a line naming the folder and the fix."""
    home, logs = tmp_path / "srv", tmp_path / "log"
    (home / ".venv" / "bin").mkdir(parents=True)
    ran = tmp_path / "ran"
    stand_in = home / ".venv" / "bin" / "cdr"
    stand_in.write_text(f"#!/bin/sh\ntouch {ran}\n")
    stand_in.chmod(0o755)
    proc = subprocess.run(
        ["/bin/sh", "-c", cron_command(home, logs)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 6
    assert proc.stdout.startswith("cdr nightly failed with exit 6 on ")
    assert f"cannot write to {logs} (docs/operations.md Install)" in proc.stdout
    assert proc.stdout.count("\n") == 1  # one line to mail, not the failure line after it
    assert not ran.exists() and not logs.exists()


def _alert_line_script(logs: Path) -> str:
    """The alert's first command, the shell script that ends the summary log for a run that
    wrote no line, as systemd hands it to sh for the instance of cdr-nightly.service."""
    text = (DEPLOY / "systemd" / "cdr-alert@.service").read_text("utf-8")
    (line,) = [ln for ln in text.splitlines() if ln.startswith("ExecStart=") and "ExecMain" in ln]
    shell, flag, script = shlex.split(line.removeprefix("ExecStart=-"))
    assert (shell, flag) == ("/bin/sh", "-c")
    # systemd's escapes and specifiers: $$ is $, %% is %, %i the failed unit
    script = script.replace("$$", "$").replace("%%", "\0").replace("%i", "cdr-nightly.service")
    assert "%" not in script
    return script.replace("\0", "%").replace("/var/log/cdr", str(logs))


def _alert_night(tmp_path: Path, code: int, status: int) -> str:
    """The alert's first command run by sh after a night that ended `exit 0`, for a unit
    that systemd saw end with `code` (ExecMainCode: 1 exited, 2 killed, 3 dumped) and
    `status`, with a stand-in for `systemctl show` (no systemd runs in a test): the summary
    log's last line."""
    logs, bin_dir = tmp_path / "log", tmp_path / "bin"
    logs.mkdir(parents=True)
    bin_dir.mkdir(parents=True)
    summary = logs / "nightly-summary.log"
    summary.write_text("cdr nightly 2026-12-04: exit 0\n")
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(
        f'#!/bin/sh\ncase "$*" in *ExecMainCode*) echo {code};; *) echo {status};; esac\n'
    )
    systemctl.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    proc = subprocess.run(
        ["/bin/sh", "-c", _alert_line_script(logs)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return summary.read_text().splitlines()[-1]


@pytest.mark.parametrize(
    ("code", "status", "line"),
    [
        (1, 200, "exit 3 (stopped: systemd could not start cdr-nightly.service, status 200: "),
        (1, 203, "exit 3 (stopped: systemd could not start cdr-nightly.service, status 203: "),
        (2, 9, "exit 137 (interrupted: killed by signal 9 (SIGKILL), kill -9 or the OOM "),
        (2, 15, "exit 143 (interrupted: killed by signal 15 (SIGTERM), a SIGTERM as cdr "),
        (3, 11, "exit 139 (interrupted: killed by signal 11 (SIGSEGV), a signal cdr does "),
        (1, 3, None),  # cdr ran and wrote its own line
        (1, 130, None),
    ],
)
def test_the_alert_ends_the_summary_log_for_a_run_that_wrote_no_line(
    tmp_path: Path, code: int, status: int, line: str | None
) -> None:
    """systemd failing the unit before cdr ran (200/CHDIR: /srv/cdr not mounted; 203/EXEC:
    the virtual environment gone), or cdr killed by SIGKILL (the OOM killer, the stop
    timeout), wrote no line: the summary log's tail showed the night before's `exit 0` as
    if it were tonight's, and only the journal said why. The alert (OnFailure=) now ends the
    log with the night's line first, in the codes the cron line and `cdr runs` use. Run by
    sh, with a stand-in for `systemctl show` (no systemd runs in a test)."""
    last = _alert_night(tmp_path, code, status)
    if line is None:
        assert last == "cdr nightly 2026-12-04: exit 0"
    else:
        assert re.fullmatch(r"cdr nightly \d{4}-\d\d-\d\d: exit \d+ \(.*\)", last), last
        assert line in last


@pytest.mark.parametrize("signal", [9, 15])
def test_the_alert_and_the_cron_job_write_one_line_for_a_killed_run(
    tmp_path: Path, signal: int
) -> None:
    """cdr killed by SIGKILL: the cron job's line said `exit 137 (... signal 9 (SIGKILL)
    ...)`, the systemd alert's `exit 130 (... signal 9 ...)`, the code `cdr runs` lists for
    the run: an operator reading both saw two codes for one event. Both now write the code
    the service manager or shell saw (128 + the signal), and apart from it what the ledger
    records, in the same words. Run by sh: the cron job with a stand-in for cdr that the
    signal kills, the alert with a stand-in for `systemctl show` saying the same."""
    home, logs = _killed_cdr(tmp_path, signal)
    subprocess.run(["/bin/sh", "-c", cron_command(home, logs)], capture_output=True, timeout=60)
    cron = (logs / "nightly-summary.log").read_text().splitlines()[-1]
    alert = _alert_night(tmp_path / "systemd", 2, signal)
    day = r"cdr nightly \d{4}-\d\d-\d\d: "
    assert re.sub(day, "", alert) == re.sub(day, "", cron)
    assert f"exit {128 + signal} (interrupted: killed by signal {signal} (SIG" in alert
    assert "the ledger records it interrupted, 130 in cdr runs" in alert


def _killed_cdr(tmp_path: Path, signal: int) -> tuple[Path, Path]:
    """A deploy home whose `cdr` (a stand-in run by sh) is killed by `signal`, and its log
    folder: (home, logs)."""
    home, logs = tmp_path / "srv", tmp_path / "log"
    (home / ".venv" / "bin").mkdir(parents=True)
    logs.mkdir()
    stand_in = home / ".venv" / "bin" / "cdr"
    stand_in.write_text(f'#!/bin/sh\n[ "$1" = --version ] && exit 0\nkill -{signal} $$\n')
    stand_in.chmod(0o755)
    return home, logs
