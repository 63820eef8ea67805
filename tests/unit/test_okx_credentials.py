"""OKX credentials: environment or owner-only file; the secret and passphrase never shown."""

from __future__ import annotations

import logging
import os
import traceback
from pathlib import Path

import pytest

from arb.core.errors import ConfigError
from venues.okx.credentials import OkxCredentials
from venues.okx.credentials import load_credentials

API_KEY = "abcd1234-5678-90ef-key0-000000000001"
SECRET = "S3CR3T22582BD0CFF14C41EDBF1AB98506286D"  # noqa: S105 - a fake
PASSPHRASE = "Pa55phrase-zz9-never-shown"  # noqa: S105 - a fake
SECRETS = (SECRET, PASSPHRASE)

ENV = {
    "ARB_OKX_API_KEY": API_KEY,
    "ARB_OKX_SECRET_KEY": SECRET,
    "ARB_OKX_PASSPHRASE": PASSPHRASE,
}
TOML = f'api_key = "{API_KEY}"\nsecret_key = "{SECRET}"\npassphrase = "{PASSPHRASE}"\n'


def write(tmp_path: Path, text: str, mode: int = 0o600, name: str = "okx.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    p.chmod(mode)
    return p


def file_env(path: Path, **extra: str) -> dict[str, str]:
    return {"ARB_OKX_CREDENTIALS_FILE": str(path), **extra}


def assert_hidden(text: str) -> None:
    for s in SECRETS:
        assert s not in text
    # Not even a long piece of them (e.g. a prefix shown "for recognition").
    for s in SECRETS:
        assert s[:8] not in text


def assert_error_hides_secrets(e: BaseException) -> None:
    assert_hidden(str(e))
    assert_hidden(repr(e))
    assert_hidden("".join(traceback.format_exception(e)))  # chained causes included


# -- environment ---------------------------------------------------------------------------


def test_loads_from_environment():
    c = load_credentials(ENV)
    assert (c.api_key, c.secret, c.passphrase, c.demo) == (API_KEY, SECRET, PASSPHRASE, False)


@pytest.mark.parametrize(
    ("value", "demo"),
    [("1", True), ("true", True), ("YES", True), ("0", False), ("false", False), ("", False)],
)
def test_demo_flag_from_environment(value, demo):
    assert load_credentials({**ENV, "ARB_OKX_DEMO": value}).demo is demo


def test_invalid_demo_flag_names_the_variable():
    with pytest.raises(ConfigError, match="ARB_OKX_DEMO is not a boolean") as e:
        load_credentials({**ENV, "ARB_OKX_DEMO": "maybe"})
    assert_error_hides_secrets(e.value)


@pytest.mark.parametrize("missing", sorted(ENV))
def test_missing_variable_is_named(missing):
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing) as e:
        load_credentials(env)
    assert_error_hides_secrets(e.value)
    for other in set(ENV) - {missing}:
        assert f"{other} not set" not in str(e.value)


def test_empty_variable_counts_as_missing():
    with pytest.raises(ConfigError, match="ARB_OKX_PASSPHRASE") as e:
        load_credentials({**ENV, "ARB_OKX_PASSPHRASE": ""})
    assert_error_hides_secrets(e.value)


def test_nothing_set_names_all_three_and_the_file_variable():
    with pytest.raises(ConfigError) as e:
        load_credentials({})
    msg = str(e.value)
    for var in (*ENV, "ARB_OKX_CREDENTIALS_FILE"):
        assert var in msg


def test_custom_prefix():
    env = {k.replace("ARB_OKX_", "ARB_OKX_SUB1_"): v for k, v in ENV.items()}
    c = load_credentials({**env, "ARB_OKX_SUB1_DEMO": "1"}, prefix="ARB_OKX_SUB1_")
    assert (c.api_key, c.secret, c.passphrase, c.demo) == (API_KEY, SECRET, PASSPHRASE, True)
    with pytest.raises(ConfigError, match="ARB_OKX_API_KEY"):
        load_credentials(env)


def test_default_env_is_os_environ(monkeypatch: pytest.MonkeyPatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("ARB_OKX_CREDENTIALS_FILE", raising=False)
    monkeypatch.delenv("ARB_OKX_DEMO", raising=False)
    assert load_credentials().secret == SECRET


# -- file ------------------------------------------------------------------------------------


def test_loads_from_owner_only_file(tmp_path):
    p = write(tmp_path, TOML, 0o600)
    c = load_credentials(file_env(p))
    assert (c.api_key, c.secret, c.passphrase, c.demo) == (API_KEY, SECRET, PASSPHRASE, False)


def test_read_only_owner_file_is_accepted(tmp_path):
    assert load_credentials(file_env(write(tmp_path, TOML, 0o400))).secret == SECRET


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660, 0o666, 0o601])
def test_file_accessible_to_group_or_others_is_refused(tmp_path, mode):
    p = write(tmp_path, TOML, mode)
    with pytest.raises(ConfigError) as e:
        load_credentials(file_env(p))
    msg = str(e.value)
    assert "ARB_OKX_CREDENTIALS_FILE" in msg
    assert str(p) in msg
    assert f"{mode:04o}" in msg
    assert "chmod 600" in msg
    assert_error_hides_secrets(e.value)


def test_demo_from_file_and_overridden_by_environment(tmp_path):
    p = write(tmp_path, TOML + "demo = true\n")
    assert load_credentials(file_env(p)).demo is True
    assert load_credentials(file_env(p, ARB_OKX_DEMO="0")).demo is False
    q = write(tmp_path, TOML, name="live.toml")
    assert load_credentials(file_env(q, ARB_OKX_DEMO="1")).demo is True


def test_missing_file_is_named(tmp_path):
    p = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="cannot open") as e:
        load_credentials(file_env(p))
    assert str(p) in str(e.value)


def test_directory_is_not_a_regular_file(tmp_path):
    d = tmp_path / "dir"
    d.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_credentials(file_env(d))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(tmp_path):
    f = tmp_path / "fifo"
    os.mkfifo(f, 0o600)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_credentials(file_env(f))


def test_symlink_to_an_owner_only_file_is_followed_and_checked(tmp_path):
    target = write(tmp_path, TOML, 0o644)
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    with pytest.raises(ConfigError, match="0644"):
        load_credentials(file_env(link))
    target.chmod(0o600)
    assert load_credentials(file_env(link)).passphrase == PASSPHRASE


@pytest.mark.parametrize("key", ["api_key", "secret_key", "passphrase"])
def test_missing_key_in_file_is_named(tmp_path, key):
    text = "".join(line + "\n" for line in TOML.splitlines() if not line.startswith(key))
    with pytest.raises(ConfigError, match=f"{key} is missing") as e:
        load_credentials(file_env(write(tmp_path, text)))
    assert_error_hides_secrets(e.value)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('secret_key = ""', "secret_key must be a non-empty string"),
        ("secret_key = 12345", "secret_key must be a non-empty string"),
        ('demo = "yes"', "demo must be true or false"),
        (f'secret = "{SECRET}"', "unknown key"),
    ],
)
def test_bad_file_values_are_named_without_values(tmp_path, line, match):
    lines = [x for x in TOML.splitlines() if not x.startswith(line.split(" ")[0] + " ")]
    with pytest.raises(ConfigError, match=match) as e:
        load_credentials(file_env(write(tmp_path, "\n".join([*lines, line]) + "\n")))
    assert_error_hides_secrets(e.value)


@pytest.mark.parametrize(
    "text",
    [
        f"api_key = {API_KEY}\nsecret_key = {SECRET}\npassphrase = {PASSPHRASE}\n",  # no quotes
        f'api_key = "{API_KEY}"\nsecret_key = "{SECRET}\npassphrase = "{PASSPHRASE}"\n',
        f"[{SECRET}\n{PASSPHRASE}",
    ],
)
def test_invalid_toml_error_never_quotes_the_file(tmp_path, text):
    with pytest.raises(ConfigError, match="not valid TOML") as e:
        load_credentials(file_env(write(tmp_path, text)))
    assert_error_hides_secrets(e.value)


def test_invalid_utf8_file_is_refused(tmp_path):
    p = tmp_path / "bin.toml"
    p.write_bytes(b'secret_key = "\xff' + SECRET.encode() + b'"\n')
    p.chmod(0o600)
    with pytest.raises(ConfigError, match="not valid TOML") as e:
        load_credentials(file_env(p))
    assert_error_hides_secrets(e.value)


def test_file_and_environment_together_is_refused(tmp_path):
    p = write(tmp_path, TOML)
    with pytest.raises(ConfigError, match="not both") as e:
        load_credentials({**ENV, **file_env(p)})
    assert_error_hides_secrets(e.value)


# -- never shown -----------------------------------------------------------------------------


def test_repr_str_and_formatting_never_show_secret_or_passphrase(caplog):
    c = load_credentials({**ENV, "ARB_OKX_DEMO": "1"})
    logger = logging.getLogger("test.okx.credentials")
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        logger.info("creds %s / %r", c, c)
    shown = [
        repr(c),
        str(c),
        f"{c}",
        f"{c!r}",
        f"{c!s}",
        f"{c:>80}",
        format(c),
        "%s %r" % (c, c),  # noqa: UP031 - the old formatting path too
        repr([c]),
        str({"creds": c}),
        caplog.text,
    ]
    for text in shown:
        assert_hidden(text)
        assert API_KEY not in text  # the key itself is shown by its prefix only
        assert "abcd…" in text
    assert repr(c) == "OkxCredentials(api_key=abcd…, demo=True)"


def test_short_api_key_repr():
    assert (
        repr(OkxCredentials("ab", SECRET, PASSPHRASE)) == "OkxCredentials(api_key=ab…, demo=False)"
    )


def test_credentials_are_immutable():
    c = OkxCredentials(API_KEY, SECRET, PASSPHRASE)
    with pytest.raises(AttributeError):
        c.secret = "other"  # type: ignore[misc]  # noqa: S105
