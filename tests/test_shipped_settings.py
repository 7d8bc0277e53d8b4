"""M4: API keys set in the config never travel inside serialised settings (actor and task
arguments are kept by Ray and shown in its dashboard); the receiving process reads them
from the data dir's private secrets file."""
import os
import stat

from nanoresearch.config import Settings
from nanoresearch.shipped_settings import secrets_path, shipped_json, with_secrets


def _settings(tmp_path):
    return Settings(data_dir=tmp_path, providers={"openai_api_key": "sk-test-config-key"},
                    storage={"qdrant_api_key": "qd-secret"})


def test_shipped_json_carries_no_key_and_the_receiver_gets_it_back(tmp_path):
    s = _settings(tmp_path)
    js = shipped_json(s)
    assert "sk-test-config-key" not in js and "qd-secret" not in js
    path = secrets_path(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    back = with_secrets(Settings.model_validate_json(js))
    assert back.providers.openai_api_key == "sk-test-config-key"
    assert back.storage.qdrant_api_key == "qd-secret"


def test_agent_actor_arguments_hold_no_key(tmp_path):
    from nanoresearch_app.compose import agent_builders

    builders = agent_builders(_settings(tmp_path), tmp_path / "ledger.jsonl")
    for name, b in builders.items():  # functools.partial(build_agent, name, settings_json, ledger)
        assert all("sk-test-config-key" not in str(a) for a in b.args), name


def test_no_secrets_file_without_configured_keys(tmp_path):
    js = shipped_json(Settings(data_dir=tmp_path))
    assert not secrets_path(tmp_path).exists()
    assert with_secrets(Settings.model_validate_json(js)).providers.openai_api_key is None
