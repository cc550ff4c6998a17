"""The runtime's --as-user: the preflight check and calibration import the user's locustfile as
the load user, never as root (the decision; molecule `default` runs the real switch on a host)."""
from __future__ import annotations

import pwd

import pytest

from hailstorm_runtime.__main__ import UserError, run_as


def entry(name: str, uid: int) -> pwd.struct_passwd:
    return pwd.struct_passwd((name, "x", uid, uid, "", f"/home/{name}", "/usr/sbin/nologin"))


def test_root_switches_to_the_load_user():
    switched = []
    user = run_as("hailstorm", euid=0, lookup=lambda name: entry(name, 998), switch=switched.append)
    assert user == "hailstorm" and [e.pw_uid for e in switched] == [998]


def test_an_unknown_load_user_is_refused_with_the_fix():
    def unknown(name):
        raise KeyError(name)

    with pytest.raises(UserError, match=r"--as-user hailstorm: no such user on this host\. Fix: provision"):
        run_as("hailstorm", euid=0, lookup=unknown, switch=pytest.fail)


def test_a_load_user_with_uid_0_is_refused():
    with pytest.raises(UserError, match="that user is root"):
        run_as("toor", euid=0, lookup=lambda name: entry(name, 0), switch=pytest.fail)


def test_another_user_goes_on_as_itself():
    # not root: nothing can change (the connecting user already is unprivileged)
    assert run_as("hailstorm", euid=54321, lookup=pytest.fail, switch=pytest.fail) == "54321"
    assert run_as(None, euid=0, lookup=pytest.fail, switch=pytest.fail) == "root"
    assert run_as("root", euid=0, lookup=pytest.fail, switch=pytest.fail) == "root"
