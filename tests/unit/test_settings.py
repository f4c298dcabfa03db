"""One source of settings: the standalone flags, Apache's PythonOptions, the container's
environment, the Dispatcher, docker-compose.yml and the entrypoint agree on every default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mod_pywebsocket import standalone
from mod_pywebsocket.runtime import dispatcher, settings

ROOT = Path(__file__).resolve().parents[2]


def test_standalone_flags_have_the_settings_defaults():
    options, _ = standalone._parse_args_and_config([])
    for setting in settings.SETTINGS:
        if setting.flag is not None:
            dest = "reload" if setting.name == "handler_reload" else setting.name
            assert getattr(options, dest) == setting.default, setting.name


def test_python_options_have_the_settings_defaults():
    values = settings.from_python_options({"mod_pywebsocket.handler_root": "/srv/handlers"})
    for setting in settings.SETTINGS:
        if setting.option is not None and setting.name not in ("handler_root", "capture_dir"):
            assert values[setting.name] == setting.default, setting.name
    assert values["capture_dir"] == "/srv/reports/captures"  # derived: the reports folder's


def test_the_environment_has_the_settings_defaults():
    values = settings.from_environment({})
    for setting in settings.SETTINGS:
        if setting.name not in ("handler_scan", "document_root", "max_buffered", "compat", "capture_dir"):  # derived
            assert values[setting.name] == setting.default, setting.name
    assert values["handler_scan"] == values["document_root"] == "/srv/handlers"
    assert values["capture_dir"] == "/srv/reports/captures"


def test_handler_reload_is_on_everywhere():
    assert settings.default("handler_reload") is True
    assert dispatcher.HANDLER_RELOAD_DEFAULT is True
    assert settings.from_python_options({"mod_pywebsocket.handler_root": "/x"})["handler_reload"] is True
    assert settings.from_environment({})["handler_reload"] is True
    assert standalone._parse_args_and_config([])[0].reload is True


SPELLINGS = [("On", True), ("yes", True), ("TRUE", True), ("1", True),
             ("off", False), ("No", False), ("false", False), ("0", False)]  # fmt: skip


@pytest.mark.parametrize(("word", "value"), SPELLINGS)
def test_one_spelling_of_on_and_off_everywhere(word, value, tmp_path):
    assert settings.from_environment({"WS_HANDLER_RELOAD": word})["handler_reload"] is value
    options = {"mod_pywebsocket.handler_root": "/x", "mod_pywebsocket.handler_reload": word}
    assert settings.from_python_options(options)["handler_reload"] is value
    config = tmp_path / "pw.ini"
    config.write_text(f"[pywebsocket]\nallow_handlers_outside_root_dir = {word}\n")
    assert standalone._parse_args_and_config(["--config", str(config)])[0].allow_handlers_outside_root_dir is value


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"WS_MAX_MESSAGE_SIZE": "lots"}, "WS_MAX_MESSAGE_SIZE must be a positive number of bytes, not 'lots'"),
        ({"WS_HANDLER_RELOAD": "maybe"}, "WS_HANDLER_RELOAD must be on or off, not 'maybe'"),
        ({"WS_LOG_LEVEL": "loud"}, "WS_LOG_LEVEL must be one of debug, info, warn, error, crit"),
        ({"WS_TIMEOUT": "1.5"}, "WS_TIMEOUT must be a whole number of seconds under Apache"),
        ({"WS_LISTEN_HTTPS": "80"}, "WS_LISTEN_HTTP and WS_LISTEN_HTTPS need different ports"),
        ({"WS_ROLE": "proxy"}, "WS_ROLE must be appliance or balancer, not 'proxy'"),
        ({"WS_ROLE": "balancer", "WS_BALANCER_MEMBERS": "a:80 a:80"}, "WS_BALANCER_MEMBERS lists a:80 twice"),
    ],
)
def test_bad_values_say_what_to_change(environ, message):
    with pytest.raises(settings.SettingError) as error:
        settings.from_environment(environ)
    assert message in str(error.value)


def test_the_same_bad_value_is_refused_by_every_entry_point(capsys):
    with pytest.raises(settings.SettingError):
        settings.from_python_options({"mod_pywebsocket.handler_root": "/x", "mod_pywebsocket.max_message_size": "0"})
    with pytest.raises(SystemExit):
        standalone._parse_args_and_config(["--max-message-size", "0"])
    assert "must be a positive number" in capsys.readouterr().err


def test_compose_passes_every_documented_setting_through():
    """A WS_* variable the configuration table documents reaches the container under compose
    (WS_MAX_BUFFERED and WS_SWITCH_INTERVAL were documented and silently dropped)."""
    table = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `(WS_[A-Z0-9_]+)`", table, re.M))
    compose = (ROOT / "docker-compose.yml").read_text()
    service = compose[compose.index("  mod_pywebsocket:") : compose.index("  replica1:")]
    passed = set(re.findall(r"^\s+(WS_[A-Z0-9_]+):", service, re.M))
    # The ports and mounts rely on these.
    inside = {"WS_TLS_DIR", "WS_RUN_DIR", "WS_LISTEN_HTTP", "WS_LISTEN_H3", "WS_ROLE"}
    compose_only = {"WS_BIND", "WS_HANDLERS"}  # read by compose itself, in its ports and volumes
    assert documented - inside - compose_only - passed == set()
    replica = compose[compose.index("  replica1:") : compose.index("  balancer:")]
    assert passed - {"WS_HANDLER_ROOT"} - set(re.findall(r"^\s+(WS_[A-Z0-9_]+):", replica, re.M)) <= {
        "WS_REPORTS_DIR", "WS_CLIENT_CONFORMANCE", "WS_HTTP2", "WS_TLS_SESSION_TICKETS", "WS_TLS_EXTRA_SAN",
        "WS_SERVER_NAME", "WS_DOCUMENT_ROOT", "WS_TLS_KEYLOG",
    }  # fmt: skip


def test_compose_and_the_entrypoint_restate_no_default():
    compose = (ROOT / "docker-compose.yml").read_text()
    restated = re.findall(r"^\s+(WS_[A-Z0-9_]+): \"\$\{\1:-", compose, re.M)
    assert restated == [], f"docker-compose.yml restates the defaults of {restated}"
    mount = re.search(r"\$\{WS_HANDLER_ROOT:-([^}]*)\}", compose).group(1)
    assert mount == settings.default("handler_root")  # the folder is mounted where the image looks
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    for name, fallback in re.findall(r"\$\{(WS_[A-Z0-9_]+):-([^}]*)\}", entrypoint):
        setting = next(s for s in settings.SETTINGS if s.env == name)  # only the healthcheck's port
        assert fallback == str(setting.default), name
