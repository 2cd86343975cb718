"""Settings precedence: defaults < profile < lore.toml < environment < CLI flags."""

import pytest

from retrieval.errors import ConfigError
from retrieval.settings import iter_setting_names, load_settings, masked_dump

pytestmark = pytest.mark.unit


def write_toml(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(lore_home):
    settings = load_settings()
    assert settings.home == lore_home.resolve()
    assert settings.profile == "local"
    assert settings.models.generator.kind == "llama_cpp"
    assert settings.models.embedder.kind == "local"
    assert settings.store.kind == "embedded"
    assert settings.store_dir == lore_home.resolve() / "chroma"


@pytest.mark.parametrize(
    "toml, env, flags, expected",
    [
        ("", {}, {}, 5),
        ("[retrieval]\ntop_k = 7\n", {}, {}, 7),
        ("[retrieval]\ntop_k = 7\n", {"LORE_RETRIEVAL__TOP_K": "9"}, {}, 9),
        ("[retrieval]\ntop_k = 7\n", {"LORE_RETRIEVAL__TOP_K": "9"}, {"retrieval": {"top_k": 11}}, 11),
        ("", {"LORE_RETRIEVAL__TOP_K": "3"}, {}, 3),
    ],
)
def test_precedence(lore_home, monkeypatch, toml, env, flags, expected):
    write_toml(lore_home.parent / "lore.toml", toml)  # the fixture's cwd
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings(overrides=flags).retrieval.top_k == expected


def test_nested_merge_keeps_siblings(lore_home, monkeypatch):
    write_toml(lore_home.parent / "lore.toml", "[models.generator]\nmax_new_tokens = 99\n")
    monkeypatch.setenv("LORE_MODELS__GENERATOR__TEMPERATURE", "0.5")
    settings = load_settings(overrides={"models": {"generator": {"seed": 3}}})
    generator = settings.models.generator
    assert (generator.max_new_tokens, generator.temperature, generator.seed) == (99, 0.5, 3)
    assert generator.kind == "llama_cpp"


def test_profile_test_is_below_toml(lore_home):
    write_toml(lore_home.parent / "lore.toml", 'profile = "test"\n[models.embedder]\nkind = "local"\n')
    settings = load_settings()
    assert settings.profile == "test"
    assert settings.models.generator.kind == "fake"  # from the profile
    assert settings.models.embedder.kind == "local"  # the file wins over the profile


def test_profile_from_env(lore_home, monkeypatch):
    monkeypatch.setenv("LORE_PROFILE", "api")
    assert load_settings().models.generator.kind == "openai"


def test_home_from_flag_beats_env(lore_home, tmp_path):
    other = tmp_path / "elsewhere"
    assert load_settings(overrides={"home": str(other)}).home == other.resolve()


@pytest.mark.parametrize(
    "toml, needle",
    [
        ("[retrieval]\ntop_k = 0\n", "retrieval.top_k"),
        ("[models.generator]\nkind = 'gpt'\n", "models.generator.kind"),
        ("[nope]\nx = 1\n", "nope"),
        ("this is = = not toml", "not valid TOML"),
    ],
)
def test_invalid_settings_name_the_fix(lore_home, toml, needle):
    write_toml(lore_home.parent / "lore.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_unknown_profile(lore_home):
    with pytest.raises(ConfigError, match="unknown profile"):
        load_settings(overrides={"profile": "prod"})


def test_missing_explicit_config(lore_home):
    with pytest.raises(ConfigError, match="--config"):
        load_settings(config_file=lore_home / "missing.toml")


def test_secrets_are_masked(lore_home, monkeypatch):
    monkeypatch.setenv("LORE_MODELS__GENERATOR__API_KEY", "sk-very-secret")
    dump = masked_dump(load_settings())
    assert dump["models"]["generator"]["api_key"] == "***"
    assert "sk-very-secret" not in repr(dump)


def test_setting_names_are_dotted_leaves():
    names = iter_setting_names()
    assert "models.generator.kind" in names
    assert "retrieval.top_k" in names
    assert "models" not in names
