# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one rule for every URL a user gives: hailstorm_target (the run settings, init.yml),
hailstorm_health_url (preflight), the Prometheus endpoints (hailstorm_prometheus_remote_write,
hailstorm_prometheus_url) and hailstorm_grafana_url (the report's link).

Pure Python (no Ansible), on the controller, before any host is touched. A URL is http or https,
has a host, a port from 1 to 65535 if it gives one, no space or control character, and no user or
password: a URL lands in plan.json, data.json and the output, so credentials go in
hailstorm_environment (kept in Ansible Vault) instead. A message never shows a password: the
user and password of a URL are shown as ***.
"""
from __future__ import annotations

import re
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from ansible_collections.romram.hailstorms.plugins.module_utils.plan_queries import PlanError

_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class UrlSetting(NamedTuple):
    example: str       # a valid value, for the messages
    required: bool     # False: empty means the feature is off
    credentials: str   # what to do with the user and password instead (follows the URL without them)


_PROMETHEUS_CREDENTIALS = (" and put HAILSTORM_PROMETHEUS_BEARER_TOKEN (or HAILSTORM_PROMETHEUS_USERNAME and "
                           "HAILSTORM_PROMETHEUS_PASSWORD) in hailstorm_environment, kept in Ansible Vault")
SETTINGS: dict[str, UrlSetting] = {
    "hailstorm_target": UrlSetting(
        "http://10.0.0.5:8080", True,
        " and put the user and password in hailstorm_environment, kept in Ansible Vault, e.g. hailstorm_environment: "
        "{TARGET_USER: tester, TARGET_PASSWORD: \"{{ vault_target_password }}\"}, and log in from the locustfile's "
        "on_start: self.client.auth = (os.environ['TARGET_USER'], os.environ['TARGET_PASSWORD'])"),
    "hailstorm_health_url": UrlSetting(
        "http://10.0.0.5:8080/health", True,
        "; each load host asks it with a plain GET, so give one that answers without a login"),
    "hailstorm_prometheus_remote_write": UrlSetting(
        "http://prometheus.example:9090/api/v1/write", False, _PROMETHEUS_CREDENTIALS),
    "hailstorm_prometheus_url": UrlSetting("http://prometheus.example:9090", False, _PROMETHEUS_CREDENTIALS),
    "hailstorm_grafana_url": UrlSetting(
        "https://grafana.example:3000", False, "; the report only links to it, your browser logs in"),
}


def masked(text: str) -> str:
    """A URL as it may be shown: any user and password replaced by ***. Everything up to the last '@'
    goes (a password with an unescaped '/' would otherwise show its end)."""
    return re.sub(r"(?<=://).*@", "***@", text, flags=re.DOTALL)


def _netloc_parts(netloc: str) -> tuple[str, str, str | None]:
    """(userinfo, host, port text or None) of a URL's netloc, as written ('[::1]' keeps its brackets)."""
    userinfo, _at, hostport = netloc.rpartition("@")
    if hostport.startswith("[") and "]" in hostport:
        host, _bracket, rest = hostport.partition("]")
        return userinfo, host + "]", rest[1:] if rest.startswith(":") else None
    host, colon, port = hostport.partition(":")
    return userinfo, host, port if colon else None


def checked_url(value: Any, name: str) -> str:
    """The URL given to the setting `name` (a key of SETTINGS), stripped; "" when it is empty and
    not required (the feature is off). Else a PlanError that names the setting, the value
    (credentials masked) and a fix that is itself valid."""
    setting = SETTINGS[name]
    text = "" if value is None else str(value).strip()
    example = f"{name}={setting.example}"
    if not text:
        if setting.required:
            raise PlanError(f"{name}: not set; give one such as {example}")
        return ""
    shown = masked(text)
    if _CONTROL.search(text):
        raise PlanError(f"{name}: {shown!r} contains a space or a control character; give a plain URL such as "
                        f"{example}")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PlanError(f"{name}: {shown!r} is not an http:// or https:// URL with a host; give one such as {example}")
    userinfo, host, port = _netloc_parts(parts.netloc)
    if userinfo or "@" in text:
        # an '@' after the host: a password with an unescaped '/' ends the host early ('u:p/w@host')
        bare = (urlunsplit((parts.scheme, host + (f":{port}" if port is not None else ""), parts.path, parts.query,
                            parts.fragment)) if userinfo else f"{parts.scheme}://{text.rpartition('@')[2]}")
        raise PlanError(f"{name}: {shown!r} carries credentials{'' if userinfo else ' (an @ after the host)'}, which "
                        f"would show in the output and the run's files; give the URL without them "
                        f"({name}={checked_url(bare, name)}){setting.credentials}"
                        f"{'' if userinfo else '; an @ in a path is written %40'}")
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
        raise PlanError(f"{name}: {shown!r} has the port {port!r}, which is not a number from 1 to 65535; give the "
                        f"service's port, or none for the scheme's default ({name}={bare})")
    return text
