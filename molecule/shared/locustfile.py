"""Locustfile of the molecule scenarios: every client requests a path of its own
(/c<client id>-h<host index>), so the target's arrival log shows which client and which load
host sent each request."""
from locust import HttpUser, constant_pacing, task


class ArrivalUser(HttpUser):
    wait_time = constant_pacing(1)

    def on_start(self):
        self.path = f"/c{self.hailstorm.client_id}-h{self.hailstorm.host_index}"

    @task
    def hit(self):
        self.client.get(self.path, name="/c{client}-h{host}")
