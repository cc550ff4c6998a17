"""Event hooks as examples/events.py and docs/extending-locust.rst write them: a request listener
that sums what it sees, test_start and test_stop listeners (this one writes its figures to the
file named by CORPUS_OUT, for the test)."""
import json
import os

from locust import HttpUser, TaskSet, between, events, task

stats = {"requests": 0, "failures": 0, "content-length": 0, "test_start": 0, "test_stop": 0}


class MyTaskSet(TaskSet):
    @task(2)
    def index(self):
        self.client.get("/index")

    @task(1)
    def stats(self):
        self.client.get("/status/500")


class WebsiteUser(HttpUser):
    wait_time = between(2, 5)
    tasks = [MyTaskSet]


@events.request.add_listener
def on_request(request_type, name, response_time, response_length, exception, context, **kwargs):
    stats["requests"] += 1
    stats["failures"] += exception is not None
    stats["content-length"] += response_length


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    stats["test_start"] += 1


@events.test_stop.add_listener
def on_test_stop(environment, **kwargs):
    stats["test_stop"] += 1
    with open(os.environ["CORPUS_OUT"], "w") as handle:
        json.dump(stats, handle)
