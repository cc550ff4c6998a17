"""The bundled feeder's GC policy: frozen while requests come, collected when idle."""
import importlib.util
from pathlib import Path

import pytest

FEEDER = Path(__file__).resolve().parents[3] / "feeder" / "hailstorm_feeder.py"


@pytest.fixture(scope="module")
def feeder():
    pytest.importorskip("aiohttp")
    spec = importlib.util.spec_from_file_location("hailstorm_feeder", FEEDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeGC:
    def __init__(self, frozen=0):
        self.calls = []
        self.frozen = frozen

    def collect(self, generation=2):
        self.calls.append(("collect", generation))

    def freeze(self):
        self.calls.append(("freeze",))
        self.frozen = 1

    def unfreeze(self):
        self.calls.append(("unfreeze",))
        self.frozen = 0

    def get_freeze_count(self):
        return self.frozen


def test_busy_second_freezes_without_collecting(feeder):
    fake = FakeGC()
    feeder.gc_tick(True, fake)
    assert fake.calls == [("freeze",)]


def test_idle_second_unfreezes_and_collects_everything(feeder):
    fake = FakeGC(frozen=1200)
    feeder.gc_tick(False, fake)
    assert fake.calls == [("unfreeze",), ("collect", 2)]


def test_idle_with_nothing_frozen_does_nothing(feeder):
    fake = FakeGC()
    feeder.gc_tick(False, fake)
    assert fake.calls == []
