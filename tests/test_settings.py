"""Configuration: where it is read from, and how a bad file is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiposture import ConfigError, Posture, Settings
from aiposture.cli import main


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIPOSTURE_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


def test_defaults_when_no_file_exists() -> None:
    s = Settings.load()
    assert s.source is None
    assert s.discovery.sanctioned_services == ()


def test_file_order_explicit_then_env_then_local_then_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = write(
        tmp_path / "home" / ".aiposture" / "config.toml",
        '[discovery]\nsanctioned_services = ["home"]\n',
    )
    assert Settings.load().discovery.sanctioned_services == ("home",)
    assert Settings.load().source == str(home)
    write(tmp_path / "aiposture.toml", '[discovery]\nsanctioned_services = ["local"]\n')
    assert Settings.load().discovery.sanctioned_services == ("local",)
    env = write(tmp_path / "env.toml", '[discovery]\nsanctioned_services = ["env"]\n')
    monkeypatch.setenv("AIPOSTURE_CONFIG", str(env))
    assert Settings.load().discovery.sanctioned_services == ("env",)
    named = write(tmp_path / "named.toml", '[discovery]\nexclude = ["fixtures"]\n')
    assert Settings.load(named).discovery.exclude == ("fixtures",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[discovery\n", "not valid TOML"),
        ("[discovery]\nsanctioned = []\n", "discovery.sanctioned: Extra inputs"),
        ('[discovery]\nsanctioned_services = "openai"\n', "discovery.sanctioned_services"),
        ('[discovery]\nsanctioned_services = [" "]\n', "an empty name"),
        ("[monitoring]\n", "monitoring: Extra inputs"),
        ('[monitor]\nstore_text = "some"\n', "monitor.store_text"),
        ("[monitor]\nretention_days = 0\n", "monitor.retention_days"),
    ],
)
def test_a_bad_file_is_a_clear_error_naming_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError, match=message) as info:
        Settings.load(path)
    assert str(path) in str(info.value)


def test_a_missing_named_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="not found"):
        Settings.load(tmp_path / "nope.toml")
    monkeypatch.setenv("AIPOSTURE_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match="AIPOSTURE_CONFIG"):
        Settings.load()


def test_posture_carries_the_settings_and_excludes_reach_discovery(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[discovery]\nexclude = ["vendored"]\n')
    estate = tmp_path / "estate"
    code = "import openai\nopenai.OpenAI().chat.completions.create(model='gpt-4o', messages=[])\n"
    write(estate / "app" / "main.py", code)
    write(estate / "vendored" / "copy.py", code.replace("gpt-4o", "gpt-4.1"))
    with Posture.open(tmp_path / "p.db", config=cfg) as p:
        assert p.settings.discovery.exclude == ("vendored",)
        p.discover(estate, progress=False)
        models = {a.name for a in p.assets if a.kind.value == "model"}
    assert models == {"gpt-4o"}


def test_cli_config_option_and_bad_config_exit_2(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.toml", "[discovery]\nnope = 1\n")
    estate = write(tmp_path / "estate" / "a.py", "x = 1\n").parent
    db = str(tmp_path / "cli.db")
    assert main(["--config", str(bad), "scan", str(estate), "--db", db, "--no-progress"]) == 2
    good = write(tmp_path / "good.toml", '[discovery]\nsanctioned_services = ["openai"]\n')
    assert main(["--config", str(good), "scan", str(estate), "--db", db, "--no-progress"]) == 0


def test_cli_unknown_log_format_is_a_usage_error(tmp_path: Path) -> None:
    log = write(tmp_path / "a.log", "x\n")
    db = str(tmp_path / "cli.db")
    args = ["scan", "--logs", str(log), "--log-format", "syslog", "--db", db, "--no-progress"]
    assert main(args) == 2
