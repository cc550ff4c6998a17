"""Holding every user until all are spawned, as examples/semaphore_wait.py does it."""
from gevent.lock import Semaphore
from locust import HttpUser, constant, events, task

all_users_spawned = Semaphore()
all_users_spawned.acquire()


@events.spawning_complete.add_listener
def on_spawning_complete(**kw):
    all_users_spawned.release()


class WebsiteUser(HttpUser):
    wait_time = constant(1)

    def on_start(self):
        all_users_spawned.wait()

    @task
    def index(self):
        self.client.get("/index")
