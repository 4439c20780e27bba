"""The restic environment file host_backup writes is read back exactly — by systemd (``EnvironmentFile=`` of the
backup and check services) and by a shell (`set -a; . file`, the restore procedure of docs/dr.md): unquoted, systemd
dropped a backslash of the password and a leading quote swallowed the lines after it, so the repository was
initialised with a password that was not the vaulted one."""

from __future__ import annotations

import ctypes
import glob
import subprocess
from pathlib import Path

import pytest

from tests.roles.render import render

SECRETS = {
    "host_backup_restic_password": r"Kx9\mQ2#v 7 $HOME `id` 'x' \"y\" ",
    "host_backup_s3_secret": r"wJal\K7MD/+=",
    "host_backup_s3_key_id": '"AKIA1',
}
JOB = {"system": "e-seal", "endpoint": "https://s3.dr.example:9000", "bucket": "xzgov-dr", "prefix": "hosts",
       "target_site": "dr", "retention_days": 30}


def _rendered(tmp_path: Path) -> Path:
    text = render("host_backup", "restic.env.j2", {**SECRETS, "inventory_hostname": "dzyz-db01", "item": JOB,
                                                    "host_backup_s3_region": "xizang",
                                                    "host_backup_ca_file": "/etc/ssl/xzgov/backup-ca.pem"})
    path = tmp_path / "e-seal.env"
    path.write_text(text, encoding="utf-8")
    return path


EXPECTED = {"RESTIC_PASSWORD": SECRETS["host_backup_restic_password"],
            "AWS_SECRET_ACCESS_KEY": SECRETS["host_backup_s3_secret"],
            "AWS_ACCESS_KEY_ID": SECRETS["host_backup_s3_key_id"],
            "RESTIC_REPOSITORY": "s3:https://s3.dr.example:9000/xzgov-dr/hosts/dzyz-db01",
            "RESTIC_CACERT": "/etc/ssl/xzgov/backup-ca.pem", "XZGOV_RETENTION_DAYS": "30",
            "AWS_DEFAULT_REGION": "xizang"}


def test_a_shell_reads_every_value_as_written(tmp_path: Path) -> None:
    path = _rendered(tmp_path)
    for name, value in EXPECTED.items():
        shown = subprocess.run(["sh", "-c", f'set -a; . "$1"; printf %s "${name}"', "sh", str(path)],
                               capture_output=True, text=True, check=True).stdout
        assert shown == value, name


_SYSTEMD = sorted(glob.glob("/usr/lib/*/systemd/libsystemd-shared-*.so")
                  + glob.glob("/lib/systemd/libsystemd-shared-*.so"))


@pytest.mark.skipif(not _SYSTEMD, reason="no libsystemd-shared on this machine (systemd's own env-file parser)")
def test_systemd_reads_every_value_as_written(tmp_path: Path) -> None:
    path = _rendered(tmp_path)
    library = ctypes.CDLL(_SYSTEMD[-1])  # load_env_file: what EnvironmentFile= runs
    environment = ctypes.POINTER(ctypes.c_char_p)()
    assert library.load_env_file(None, str(path).encode(), ctypes.byref(environment)) == 0
    read: dict[str, str] = {}
    index = 0
    while environment[index]:
        name, _, value = environment[index].decode().partition("=")
        read[name] = value
        index += 1
    assert read == EXPECTED


def test_the_weekly_check_runs_on_sunday_morning_beijing_time() -> None:
    """The check timer's default said Sunday 20:00 UTC — Monday 04:00 in Lhasa, in the working week; docs/dr.md
    promises Sunday 04:00 Beijing time, as the full backups' Saturday-evening UTC."""
    import datetime as dt

    import yaml

    defaults = yaml.safe_load((Path(__file__).resolve().parents[2] / "roles/host_backup/defaults/main.yml")
                              .read_text(encoding="utf-8"))
    weekday, _, clock, zone = defaults["host_backup_check_on_calendar"].split(" ")
    assert zone == "UTC"
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    hour, minute, _ = (int(part) for part in clock.split(":"))
    utc = dt.datetime(2026, 12, 7, hour, minute, tzinfo=dt.UTC) + dt.timedelta(days=days.index(weekday))  # a Monday
    beijing = utc.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert (beijing.strftime("%a"), beijing.hour) == ("Sun", 4)
