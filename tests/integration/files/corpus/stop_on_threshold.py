"""Stopping the test when the fail ratio passes a threshold, as examples/stop_on_threshold.py does
it: a greenlet started in an init listener calls environment.runner.quit()."""
import gevent
from locust import HttpUser, constant, events, task
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING, WorkerRunner


class MyUser(HttpUser):
    wait_time = constant(1)

    def on_start(self):
        self.iterations = 0

    @task
    def my_task(self):
        self.iterations += 1
        self.client.get("/fine" if self.iterations <= 2 else "/status/500")


def checker(environment):
    while environment.runner.state not in [STATE_STOPPING, STATE_STOPPED, STATE_CLEANUP]:
        gevent.sleep(0.5)
        if environment.runner.stats.total.fail_ratio > 0.2:
            print(f"fail ratio was {environment.runner.stats.total.fail_ratio}, quitting")
            environment.runner.quit()
            return


@events.init.add_listener
def on_locust_init(environment, **_kwargs):
    if not isinstance(environment.runner, WorkerRunner):
        gevent.spawn(checker, environment)
