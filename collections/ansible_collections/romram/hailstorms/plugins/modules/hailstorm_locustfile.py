#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: romram.hailstorms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: hailstorm_locustfile
short_description: Check the run's locustfile on the controller before any host is touched
version_added: "1.0.0"
description:
  - Imports the locustfile with Locust's own loader in a subprocess of the controller's Python
    (C(python -m hailstorm_runtime check), the runtime the load hosts run), for every backend.
  - Fails, with a message naming C(hailstorm_locustfile), the path and the fix, when the file does
    not exist, does not import (an exception, a C(sys.exit) or an import that does not finish in time),
    defines no User class, or defines a LoadTestShape that cannot be planned ahead (its C(tick) reads the
    runner's state, never ends, raises, or changes its user classes over time, or names classes other
    than the run's).
  - A LoadTestShape that can be planned is sampled on a fake clock and returned as RV(shape).
  - Always runs on the controller, whatever the task's host. Read-only; supports check mode.
options:
  path:
    description: The locustfile; a relative path is read from the directory ansible-playbook runs in.
    type: path
    required: true
  python:
    description: The Python to import it with; it needs the runtime's requirements (Locust). Default the controller's own.
    type: str
  environment:
    description: Extra environment of the import (the run's C(hailstorm_environment)); never returned.
    type: dict
    default: {}
  locust_args:
    description:
      - Locust command line arguments of the run (C(hailstorm_locust_args)), parsed after the import by
        Locust's own parser, with the locustfile's own arguments; an unknown one fails the check.
      - User class names among them select the classes that run (and are dry-run). Locust options that the plan
        replaces or a planned run cannot honour (C(-u), C(-r), C(-t), C(--host), C(--master), C(--worker), the web
        UI's, C(--csv), C(--html), C(--config), ...) fail the check, naming the setting to use instead.
    type: list
    elements: str
    default: []
  dry_run:
    description:
      - Also run a few task iterations of each HttpUser / FastHttpUser class against a loopback stub
        server on the controller (nothing is sent to the target; no init or test_start event is fired)
        and count their requests per task iteration. C(hailstorm_rps) paces task iterations, so a mean
        other than one request per iteration is warned about (an Ansible warning), with the C(hailstorm_rps)
        that gives the planned rate in requests.
      - Other user classes are not dry-run (their clients may reach real systems).
    type: bool
    default: false
  threshold_labels:
    description:
      - The labels of the run's label thresholds (C(hailstorm_thresholds) C(labels)), compared with the labels the
        dry run saw. One that matches none fails the check when the dry run ran every task of every user class
        without an exception (the run's verdict would fail it), else is warned about.
    type: list
    elements: str
    default: []
  pip_packages:
    description:
      - C(hailstorm_pip_packages) (checked). When given, C(--otel) in O(locust_args) is refused unless they hold
        OpenTelemetry's SDK, an OTLP exporter and the requests instrumentation (C(plugins/module_utils/otel.py)).
    type: list
    elements: str
  rps:
    description: The run's planned rate (C(hailstorm_rps)), for the warning's fix.
    type: float
  timeout:
    description:
      - Seconds the locustfile's import may take (C(hailstorm_import_timeout)); an import that takes longer (a loop
        or a wait at import) fails the check with that reason. Locust's own import and the dry run get 60 s more.
    type: raw
    default: 30
author:
  - romram.hailstorms contributors (@romram)
extends_documentation_fragment:
  - romram.hailstorms.attributes
  - romram.hailstorms.attributes.action
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
"""

EXAMPLES = r"""
- name: Check the locustfile on the controller
  romram.hailstorms.hailstorm_locustfile:
    path: "{{ hs_run.locustfile }}"
    python: "{{ ansible_playbook_python }}"
  run_once: true
"""

RETURN = r"""
user_classes:
  description: >-
    The user classes the run uses - those named in locust_args (else all), narrowed to a LoadTestShape's
    fixed user_classes when its tick() names some.
  returned: success
  type: list
  elements: str
  sample: [ShopUser]
shape_classes:
  description: Its LoadTestShape classes.
  returned: always, when the file imports
  type: list
  elements: str
shape:
  description: >-
    Its LoadTestShape sampled on a fake clock - name, points (breakpoints [t seconds, users], linear in between),
    duration (s), user_classes (a fixed list, or null), class_points (when tick() changes its user classes: each
    class's curve of users, its share of the users by weight; each class is then planned as a scenario), warnings
    (a tick() that reads the wall clock, calls reset_time() or draws random numbers: what was seen, what the plan
    assumed, the fix; the run settings carry them into plan.json) - for the plan to follow exactly.
  returned: success, when the locustfile defines a LoadTestShape
  type: dict
locust:
  description: Locust's version on the controller.
  returned: success
  type: str
  sample: "2.47.0"
import_seconds:
  description: Seconds the import took.
  returned: success
  type: float
requests_per_iteration:
  description:
    - The dry run's figures (null without one) - C(mean) requests per task iteration weighted by the
      classes' weights, C(classes) (per class), C(unsure) (classes whose dry run raised exceptions against
      the stub), C(skipped) (not HTTP user classes).
  returned: success
  type: dict
  sample: {mean: 1.5, classes: {Browse: 1.0, Checkout: 3.0}, unsure: [], skipped: [], iterations: 10}
"""
