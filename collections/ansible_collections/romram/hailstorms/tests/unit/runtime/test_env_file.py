"""The runtime reads secrets from a 0600 environment file, never from its command line."""
from __future__ import annotations

import json
import os

import pytest

from hailstorm_runtime.__main__ import EnvFileError, load_env_file, remove_env_file


def write(path, data, mode=0o600):
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    os.chmod(path, mode)
    return str(path)


def test_the_variables_reach_the_environment_and_only_names_are_returned(tmp_path):
    environ: dict = {}
    names = load_env_file(write(tmp_path / "env.json", {"TOKEN": "s3cret", "PORT": 8080}), environ)
    assert names == ["PORT", "TOKEN"] and environ == {"TOKEN": "s3cret", "PORT": "8080"}


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_file_others_may_read_is_refused(tmp_path, mode):
    with pytest.raises(EnvFileError, match=rf"has mode {mode:04o}; .*readable by its owner only \(chmod 0600\)"):
        load_env_file(write(tmp_path / "env.json", {"TOKEN": "x"}, mode), {})


@pytest.mark.parametrize("content,message", [
    ("TOKEN=x", "is not JSON"),
    (["TOKEN"], "must be a JSON object"),
    ({"A=B": "x"}, "must be a JSON object"),
])
def test_bad_files_are_refused_without_showing_values(tmp_path, content, message):
    with pytest.raises(EnvFileError, match=message) as error:
        load_env_file(write(tmp_path / "env.json", content), {})
    assert "x\"" not in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(EnvFileError, match=r"cannot read the environment file .*/nope.json: No such file"):
        load_env_file(str(tmp_path / "nope.json"), {})


def test_a_process_that_ends_removes_the_file_and_one_already_gone_is_no_error(tmp_path, capsys):
    path = write(tmp_path / "env.json", {"TOKEN": "x"})
    remove_env_file(path)
    assert not os.path.exists(path)
    remove_env_file(path)
    remove_env_file(None)
    assert capsys.readouterr().err == ""
