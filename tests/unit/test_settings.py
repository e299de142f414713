"""server/settings.py: the environment read once into a frozen Settings."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from server.errors import ConfigError
from server.settings import DEMO_PATH, Settings

KEY = "sk-proj-very-secret-0123456789"


def test_defaults_are_demo_mode() -> None:
    settings = Settings.from_environ({})
    assert settings == Settings()
    assert settings.demo
    assert settings.openai_base_url is None
    assert settings.openai_api_key is None
    assert settings.model is None
    assert settings.self_url == "http://127.0.0.1:8000"
    assert settings.upstream_base_url == "http://127.0.0.1:8000" + DEMO_PATH
    assert settings.upstream_base_url == "http://127.0.0.1:8000/demo/v1"
    assert settings.allowed_origins == ()
    assert settings.log_level == "info"
    assert settings.demo_ttft == pytest.approx(0.35)


def test_blank_values_count_as_unset() -> None:
    env = {
        "OPENAI_BASE_URL": "  ",
        "OPENAI_API_KEY": "",
        "INKSTREAM_MAX_FPS": " ",
        "INKSTREAM_ALLOWED_ORIGINS": " ",
        "INKSTREAM_LOG_LEVEL": "",
    }
    assert Settings.from_environ(env) == Settings()


def test_upstream_configured() -> None:
    settings = Settings.from_environ(
        {
            "OPENAI_BASE_URL": " https://api.openai.com/v1/ ",
            "OPENAI_API_KEY": f" {KEY} ",
            "INKSTREAM_MODEL": " gpt-4o-mini ",
        }
    )
    assert not settings.demo
    assert settings.openai_base_url == "https://api.openai.com/v1"
    assert settings.upstream_base_url == "https://api.openai.com/v1"
    assert settings.openai_api_key == KEY
    assert settings.model == "gpt-4o-mini"


def test_upstream_base_url_strips_a_trailing_slash_given_directly() -> None:
    assert Settings(openai_base_url="http://h:1/v1/").upstream_base_url == "http://h:1/v1"
    assert Settings(self_url="http://h:2/").upstream_base_url == "http://h:2/demo/v1"


@pytest.mark.parametrize(
    "url",
    ["http://localhost:11434/v1", "https://openrouter.ai/api/v1", "http://[::1]:8080/v1", "http://10.0.0.2"],
)
def test_good_urls(url: str) -> None:
    assert Settings.from_environ({"OPENAI_BASE_URL": url}).openai_base_url == url


NUMBERS = [
    # variable, attribute, raw, expected
    ("INKSTREAM_CONNECT_TIMEOUT", "connect_timeout", "2.5", 2.5),
    ("INKSTREAM_IDLE_TIMEOUT", "idle_timeout", "120", 120.0),
    ("INKSTREAM_MAX_UPSTREAM_CONNECTIONS", "max_upstream_connections", "50", 50),
    ("INKSTREAM_MODELS_CACHE_SECONDS", "models_cache_seconds", "0", 0.0),
    ("INKSTREAM_GRACE_PERIOD", "grace_period", "5", 5.0),
    ("INKSTREAM_TURN_RETENTION", "turn_retention", "1e3", 1000.0),
    ("INKSTREAM_MAX_FPS", "max_fps", "60", 60.0),
    ("INKSTREAM_MAX_FRAME_BYTES", "max_frame_bytes", "65536", 65536),
    ("INKSTREAM_CLIENT_RATE", "client_frames_per_second", " 5 ", 5.0),
    ("INKSTREAM_SEND_TIMEOUT", "send_timeout", "3", 3.0),
    ("INKSTREAM_DEMO_TTFT_MS", "demo_ttft_ms", "1500", 1500.0),
    ("INKSTREAM_RENDER_INTERVAL_MS", "render_interval_ms", "20", 20.0),
    ("INKSTREAM_MAX_TURN_LOG_BYTES", "max_turn_log_bytes", "4096", 4096),
    ("INKSTREAM_BURST_FRAMES", "burst_frames", "2", 2),
    ("INKSTREAM_CLIENT_BURST", "client_burst", "9", 9),
    ("INKSTREAM_MAX_TURNS_PER_SOCKET", "max_turns_per_socket", "3", 3),
    ("INKSTREAM_DEMO_TOKENS_PER_SECOND", "demo_tokens_per_second", "12.5", 12.5),
]


@pytest.mark.parametrize(("name", "attr", "raw", "expected"), NUMBERS, ids=[n[0] for n in NUMBERS])
def test_every_number(name: str, attr: str, raw: str, expected: float) -> None:
    settings = Settings.from_environ({name: raw})
    value = getattr(settings, attr)
    assert value == pytest.approx(expected)
    assert type(value) is type(getattr(Settings(), attr))
    # Nothing else moved.
    names = [name for name in Settings.model_fields if name != attr]
    others = {name: getattr(settings, name) for name in names}
    defaults = {name: getattr(Settings(), name) for name in names}
    assert others == defaults


def test_milliseconds_read_as_seconds_where_the_code_uses_them() -> None:
    assert Settings.from_environ({"INKSTREAM_DEMO_TTFT_MS": "0"}).demo_ttft == 0.0
    assert Settings.from_environ({"INKSTREAM_DEMO_TTFT_MS": "1500"}).demo_ttft == pytest.approx(1.5)
    assert Settings.from_environ({"INKSTREAM_RENDER_INTERVAL_MS": "20"}).render_interval == pytest.approx(
        0.02
    )


@pytest.mark.parametrize("name", [n[0] for n in NUMBERS])
@pytest.mark.parametrize("raw", ["fast", "1,5", "10s", "0x10", "nan", "-1", "-0.001", "NaN"])
def test_bad_number_names_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_environ({name: raw})
    assert name in str(caught.value)
    assert repr(raw) in str(caught.value)


@pytest.mark.parametrize("raw", ["inf", "1e400"])
def test_infinite_integer_setting_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="INKSTREAM_MAX_FRAME_BYTES"):
        Settings.from_environ({"INKSTREAM_MAX_FRAME_BYTES": raw})


@pytest.mark.parametrize(
    "name", ["INKSTREAM_MAX_FPS", "INKSTREAM_CLIENT_RATE", "INKSTREAM_DEMO_TOKENS_PER_SECOND"]
)
def test_zero_rate_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_environ({name: "0"})


@pytest.mark.parametrize(
    "url",
    [
        "api.openai.com/v1",
        "localhost:8000/v1",
        "ftp://host/v1",
        "ws://host/v1",
        "http://",
        "https:///v1",
        "not a url",
        "file:///etc/passwd",
    ],
)
def test_bad_url_names_the_variable(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_environ({"OPENAI_BASE_URL": url})
    assert "OPENAI_BASE_URL" in str(caught.value)
    assert repr(url) in str(caught.value)


def test_origins() -> None:
    settings = Settings.from_environ(
        {"INKSTREAM_ALLOWED_ORIGINS": " https://App.Example.com/ ,,http://localhost:5173, "}
    )
    assert settings.allowed_origins == ("https://app.example.com", "http://localhost:5173")


@pytest.mark.parametrize(
    "origin",
    ["app.example.com", "https://app.example.com/path", "ws://app.example.com", "https://", "*", "null"],
)
def test_bad_origin_names_the_variable(origin: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_environ({"INKSTREAM_ALLOWED_ORIGINS": f"https://ok.example,{origin}"})
    assert "INKSTREAM_ALLOWED_ORIGINS" in str(caught.value)
    assert repr(origin.rstrip("/")) in str(caught.value)  # quoted as read, minus a final "/"


@pytest.mark.parametrize(("raw", "level"), [("DEBUG", "debug"), (" Warning ", "warning"), ("", "info")])
def test_log_level(raw: str, level: str) -> None:
    assert Settings.from_environ({"INKSTREAM_LOG_LEVEL": raw}).log_level == level


def test_unrelated_variables_are_ignored() -> None:
    env = {"PATH": "/bin", "INKSTREAM_NOPE": "x", "OPENAI_ORG": "o"}
    assert Settings.from_environ(env) == Settings()


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("INKSTREAM_", "OPENAI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("INKSTREAM_MODEL", "from-env")
    assert Settings.from_environ().model == "from-env"
    assert Settings.from_environ(None).model == "from-env"


# ------------------------------------------------------------------ self_url


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("0.0.0.0", 8000, "http://127.0.0.1:8000"),
        ("::", 9000, "http://[::1]:9000"),
        ("", 1234, "http://127.0.0.1:1234"),
        ("127.0.0.1", 5, "http://127.0.0.1:5"),
        ("localhost", 8080, "http://localhost:8080"),
        ("example.com", 80, "http://example.com:80"),
        ("::1", 8000, "http://[::1]:8000"),
        ("[::1]", 8000, "http://[::1]:8000"),
        ("fd00::2", 8000, "http://[fd00::2]:8000"),
    ],
)
def test_with_self_url(host: str, port: int, url: str) -> None:
    base = Settings.from_environ({})
    moved = base.with_self_url(host, port)
    assert moved.self_url == url
    assert moved.upstream_base_url == url + "/demo/v1"
    assert base.self_url == "http://127.0.0.1:8000"  # a new object, the old one untouched
    assert moved.bind_host == host
    assert moved.replace(self_url=base.self_url, bind_host=base.bind_host) == base


def test_with_self_url_keeps_a_real_upstream() -> None:
    base = Settings.from_environ({"OPENAI_BASE_URL": "http://up:1/v1"})
    settings = base.with_self_url("0.0.0.0", 2)
    assert settings.upstream_base_url == "http://up:1/v1"
    assert settings.self_url == "http://127.0.0.1:2"


# ------------------------------------------------------------------ frozen, secret


def test_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.max_fps = 1.0  # type: ignore[misc]


def test_replace_validates() -> None:
    assert Settings().replace(max_fps=5).max_fps == 5.0
    with pytest.raises(ValidationError):
        Settings().replace(max_fps=0)


def test_direct_construction_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere/v1")
    monkeypatch.setenv("INKSTREAM_MAX_FPS", "1")
    assert Settings() == Settings.from_environ({})


def test_set_by_the_cli_only() -> None:
    env = {"INKSTREAM_SELF_URL": "http://evil/", "INKSTREAM_BIND_HOST": "0.0.0.0"}
    assert Settings.from_environ(env) == Settings()


def test_docs_list_every_variable_and_no_other() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `((?:INKSTREAM|OPENAI)_[A-Z_]+|DATABASE_URL)`", docs, re.M))
    assert documented == set(Settings.variables().values())


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Settings("http://h/v1")  # type: ignore[call-arg]


def test_repr_never_shows_the_api_key() -> None:
    settings = Settings.from_environ({"OPENAI_BASE_URL": "http://h/v1", "OPENAI_API_KEY": KEY})
    assert settings.openai_api_key == KEY
    for text in (
        repr(settings),
        str(settings),
        f"{settings}",
        f"{settings!r}",
        repr(settings.with_self_url("0.0.0.0", 1)),
        repr([settings]),
    ):
        assert KEY not in text
        assert "very-secret" not in text
    assert "http://h/v1" in repr(settings)


@pytest.mark.parametrize(
    ("bind", "hosts"),
    [("127.0.0.1", ("localhost", "127.0.0.1", "[::1]")), ("::1", ("localhost", "127.0.0.1", "[::1]")),
     ("0.0.0.0", ("*",))],
)  # fmt: skip
def test_trusted_hosts_follow_the_bind_address(bind: str, hosts: tuple[str, ...]) -> None:
    assert Settings().with_self_url(bind, 8000).trusted_hosts() == hosts


def test_allowed_hosts_are_read_and_checked() -> None:
    settings = Settings.from_environ({"INKSTREAM_ALLOWED_HOSTS": "chat.example.com, *.example.org"})
    assert settings.trusted_hosts() == ("chat.example.com", "*.example.org")
    with pytest.raises(ConfigError, match="INKSTREAM_ALLOWED_HOSTS"):
        Settings.from_environ({"INKSTREAM_ALLOWED_HOSTS": "bad host!"})


def test_tool_settings_are_read() -> None:
    settings = Settings.from_environ(
        {
            "INKSTREAM_TOOLS": " calculator , current_time ",
            "INKSTREAM_PYTHON_TOOLS": "tests.support.tools:slow_echo,pkg.mod:fn",
            "INKSTREAM_MCP_SERVERS": (
                "files=python -m srv --root=/tmp; https://mcp.example.com/mcp; /usr/bin/git-mcp run"
            ),
            "INKSTREAM_TOOL_TIMEOUTS": "slow_echo=0.5, search_docs=4",
            "INKSTREAM_MAX_TOOL_ROUNDS": "3",
        }
    )
    assert settings.tools == ("calculator", "current_time")
    assert settings.python_tools == ("tests.support.tools:slow_echo", "pkg.mod:fn")
    # A name before "=" names the server; otherwise the URL's host or the command's file does.
    assert settings.mcp_servers == (
        ("files", "python -m srv --root=/tmp"),
        ("mcp_example_com", "https://mcp.example.com/mcp"),
        ("git-mcp", "/usr/bin/git-mcp run"),
    )
    assert settings.timeout_for("slow_echo") == 0.5
    assert settings.timeout_for("calculator") == settings.tool_timeout == 30.0
    assert settings.max_tool_rounds == 3
    assert Settings().tools == ("all",)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INKSTREAM_PYTHON_TOOLS", "no_colon"),
        ("INKSTREAM_PYTHON_TOOLS", "pkg.mod:not-an-identifier"),
        ("INKSTREAM_MCP_SERVERS", "a=python one.py; a=python two.py"),
        ("INKSTREAM_TOOL_TIMEOUTS", "slow=fast"),
        ("INKSTREAM_TOOL_TIMEOUTS", "slow=0"),
        ("INKSTREAM_MAX_TOOL_ROUNDS", "0"),
    ],
)
def test_bad_tool_settings_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_environ({name: value})
