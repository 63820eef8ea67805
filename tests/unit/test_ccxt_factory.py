"""``venues.ccxt.factory``: credentials from the environment or an owner-only file, and the ccxt
exchange of a venue (class, sandbox mode, URL overrides). Constructing a ccxt exchange makes no
request, so none of this touches the network."""

from __future__ import annotations

from pathlib import Path

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from arb.config import VenueConfig
from arb.core.errors import ConfigError
from venues.ccxt.factory import load_ccxt_credentials
from venues.ccxt.factory import make_exchange
from venues.ccxt.factory import override_urls

P = "ARB_BIN_"
KEY = "k-1234567890"
SECRET = "s3cr3t-value-never-shown"  # noqa: S105 - a test value
PASS = "pass-phrase-never-shown"  # noqa: S105 - a test value


def venue(**kw: object) -> VenueConfig:
    fields: dict[str, object] = {"id": "bin", "kind": "ccxt", "exchange": "binance"}
    fields.update(kw)
    return VenueConfig(**fields)  # type: ignore[arg-type]


def write_creds(tmp_path: Path, text: str, mode: int = 0o600) -> str:
    path = tmp_path / "creds.toml"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


# -- credentials -----------------------------------------------------------------------------


def test_no_variable_set_gives_no_credentials():
    assert load_ccxt_credentials(P, {"OTHER": "x", "ARB_OKX_API_KEY": "y"}) == {}


def test_key_and_secret_from_the_environment():
    env = {f"{P}API_KEY": KEY, f"{P}SECRET_KEY": SECRET}
    assert load_ccxt_credentials(P, env) == {"apiKey": KEY, "secret": SECRET}


def test_passphrase_from_the_environment_is_ccxt_password():
    env = {f"{P}API_KEY": KEY, f"{P}SECRET_KEY": SECRET, f"{P}PASSPHRASE": PASS}
    assert load_ccxt_credentials(P, env) == {"apiKey": KEY, "secret": SECRET, "password": PASS}


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({f"{P}API_KEY": KEY}, f"{P}SECRET_KEY"),
        ({f"{P}API_KEY": KEY, f"{P}SECRET_KEY": ""}, f"{P}SECRET_KEY"),
        ({f"{P}SECRET_KEY": SECRET}, f"{P}API_KEY"),
        ({f"{P}PASSPHRASE": PASS}, f"{P}API_KEY"),
    ],
    ids=["key-only", "empty-secret", "secret-only", "passphrase-only"],
)
def test_incomplete_credentials_name_the_missing_variable_never_a_value(env, missing):
    with pytest.raises(ConfigError, match=missing) as e:
        load_ccxt_credentials(P, env)
    for value in (KEY, SECRET, PASS):
        assert value not in str(e.value)


def test_credentials_from_an_owner_only_file(tmp_path):
    path = write_creds(tmp_path, f'api_key = "{KEY}"\nsecret_key = "{SECRET}"\n')
    assert load_ccxt_credentials(P, {f"{P}CREDENTIALS_FILE": path}) == {
        "apiKey": KEY,
        "secret": SECRET,
    }
    path = write_creds(tmp_path, f'api_key = "{KEY}"\nsecret_key = "{SECRET}"\npassphrase = "p"\n')
    creds = load_ccxt_credentials(P, {f"{P}CREDENTIALS_FILE": path})
    assert creds == {"apiKey": KEY, "secret": SECRET, "password": "p"}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_credentials_file_readable_by_others_is_refused(tmp_path, mode):
    path = write_creds(tmp_path, f'api_key = "{KEY}"\nsecret_key = "{SECRET}"\n', mode)
    with pytest.raises(ConfigError, match="chmod 600") as e:
        load_ccxt_credentials(P, {f"{P}CREDENTIALS_FILE": path})
    assert f"{P}CREDENTIALS_FILE" in str(e.value)
    assert SECRET not in str(e.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (f'api_key = "{KEY}"\n', "secret_key is missing"),
        (f'api_key = "{KEY}"\nsecret_key = ""\n', "secret_key must be a non-empty string"),
        (f'api_key = "{KEY}"\nsecret_key = "{SECRET}"\nsecret = "x"\n', "unknown key"),
        (f'api_key = "{KEY}"\nsecret_key = "{SECRET}', "not valid TOML"),
    ],
    ids=["no-secret", "empty-secret", "unknown-key", "bad-toml"],
)
def test_bad_credentials_file_is_refused_without_its_values(tmp_path, text, match):
    path = write_creds(tmp_path, text)
    with pytest.raises(ConfigError, match=match) as e:
        load_ccxt_credentials(P, {f"{P}CREDENTIALS_FILE": path})
    assert SECRET not in str(e.value)


def test_credentials_file_and_variables_together_are_refused(tmp_path):
    path = write_creds(tmp_path, f'api_key = "{KEY}"\nsecret_key = "{SECRET}"\n')
    env = {f"{P}CREDENTIALS_FILE": path, f"{P}API_KEY": KEY}
    with pytest.raises(ConfigError, match="not both"):
        load_ccxt_credentials(P, env)


def test_missing_credentials_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot open"):
        load_ccxt_credentials(P, {f"{P}CREDENTIALS_FILE": str(tmp_path / "nope.toml")})


def test_credentials_use_the_venue_prefix():
    v = venue(id="my-bin")
    env = {"ARB_MY_BIN_API_KEY": KEY, "ARB_MY_BIN_SECRET_KEY": SECRET}
    assert load_ccxt_credentials(v.env_prefix, env) == {"apiKey": KEY, "secret": SECRET}


# -- exchange --------------------------------------------------------------------------------


def test_make_exchange_is_ccxt_pro_with_rate_limit_and_credentials():
    ex = make_exchange(venue(), credentials={"apiKey": KEY, "secret": SECRET})
    assert isinstance(ex, ccxt_pro.binance)
    assert ex.enableRateLimit is True
    assert (ex.apiKey, ex.secret) == (KEY, SECRET)
    assert ex.urls["api"]["public"] == "https://api.binance.com/api/v3"  # no override


def test_make_exchange_without_pro_is_async_support():
    ex = make_exchange(venue(), pro=False)
    assert isinstance(ex, ccxt_async.binance)
    assert not isinstance(ex, ccxt_pro.binance)


def test_make_exchange_falls_back_to_async_support_without_pro_class():
    ex_id = next(e for e in ccxt_async.exchanges if e not in ccxt_pro.exchanges)
    ex = make_exchange(venue(exchange=ex_id))
    assert isinstance(ex, getattr(ccxt_async, ex_id))


def test_unknown_exchange_id_names_the_venue_and_the_id():
    with pytest.raises(ConfigError, match=r"venues\[bin\]\.exchange: 'binanse'"):
        make_exchange(venue(exchange="binanse"))


def test_demo_turns_on_ccxt_sandbox_mode():
    ex = make_exchange(venue(demo=True))
    assert ex.isSandboxModeEnabled
    assert ex.urls["api"]["public"].startswith("https://testnet.binance.vision/")


def test_demo_for_an_exchange_without_sandbox_is_refused():
    ex_id = next(e for e in ccxt_pro.exchanges if not getattr(ccxt_pro, e)().urls.get("test"))
    with pytest.raises(ConfigError, match=r"venues\[bin\]\.demo"):
        make_exchange(venue(exchange=ex_id, demo=True))


def test_okx_urls_point_at_a_sandbox_with_ccxt_ws_paths():
    v = venue(
        id="okx-ccxt",
        exchange="okx",
        rest_url="http://127.0.0.1:8443",
        ws_url="ws://127.0.0.1:8443/ws/v5/public",
    )
    ex = make_exchange(v)
    # What ccxt okx needs: the REST base, and the ws base it appends /public|/private to.
    assert ex.urls["api"] == {"rest": "http://127.0.0.1:8443", "ws": "ws://127.0.0.1:8443/ws/v5"}


def test_binance_urls_keep_their_paths_under_the_override():
    v = venue(rest_url="http://127.0.0.1:9000/", ws_url="ws://127.0.0.1:9001/ws")
    api = make_exchange(v).urls["api"]
    assert api["public"] == "http://127.0.0.1:9000/api/v3"
    assert api["sapi"] == "http://127.0.0.1:9000/sapi/v1"
    assert api["fapiPublic"] == "http://127.0.0.1:9000/fapi/v1"
    assert api["ws"]["spot"] == "ws://127.0.0.1:9001/ws"
    assert api["ws"]["ws-api"]["spot"] == "ws://127.0.0.1:9001/ws-api/v3"

    def urls(x: object) -> list[str]:
        if isinstance(x, dict):
            return [u for y in x.values() for u in urls(y)]
        return [x] if isinstance(x, str) else []

    hosts = {u.split("/")[2] for u in urls(api)}
    assert hosts == {"127.0.0.1:9000", "127.0.0.1:9001"}


def test_rest_url_prefix_and_only_one_kind_overridden():
    v = venue(rest_url="https://proxy.example/binance")
    api = make_exchange(v).urls["api"]
    assert api["public"] == "https://proxy.example/binance/api/v3"
    assert api["ws"]["spot"] == "wss://stream.binance.com:9443/ws"  # ws_url unset: unchanged


def test_override_urls_handles_a_single_string_and_ccxt_hostname_templates():
    assert override_urls("https://api.x.com/v1", rest_base="http://h:1", ws_base="") == (
        "http://h:1/v1"
    )
    api = {"public": "https://api.{hostname}/v5?x=1", "ws": "wss://stream.{hostname}/v5/public"}
    assert override_urls(api, rest_base="http://h:1", ws_base="ws://h:2") == {
        "public": "http://h:1/v5?x=1",
        "ws": "ws://h:2/v5/public",
    }


@pytest.mark.parametrize(
    ("field", "url"),
    [("rest_url", "ws://127.0.0.1:1"), ("ws_url", "http://127.0.0.1:1"), ("rest_url", "http:/x")],
)
def test_override_of_the_wrong_scheme_is_refused(field, url):
    with pytest.raises(ConfigError, match=rf"venues\[bin\]\.{field}"):
        make_exchange(venue(**{field: url}))
