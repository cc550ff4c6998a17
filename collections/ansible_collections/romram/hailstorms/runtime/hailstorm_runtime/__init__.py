"""hailstorm_runtime: what runs on a load host, one Locust process per planned core.

    python -m hailstorm_runtime run --data data.json --core N
    python -m hailstorm_runtime check --locustfile path/to/locustfile.py
    python -m hailstorm_runtime calibrate [--seconds 4] [--rps 1000] [--pace 1]

contract.py, plan_queries.py, planner.py and records.py are symlinks to the collection's
plugins/module_utils (one implementation for the controller and the load hosts): plan_queries.py
is what a core reads from its slice of the plan, planner.py plans the calibration's one core; the
settings (run_settings.py) and the preview (plan_preview.py) stay on the controller.
"""

import time as _time

__version__ = "2.0.0"  # the collection's (galaxy.yml; tests/unit/test_versions.py keeps them equal)
PROCESS_START = _time.time()  # about when this process started: it imports the runtime first
