"""Demo locustfile for the bundled feeder, written as for plain Locust.

Run it with plain Locust (`locust -f locustfiles/demo.py --host http://127.0.0.1:3456`) or with
romram.hailstorms, which starts and paces every user on its planned slot and gives each one
`self.hailstorm.client_id` (unique over all load hosts) for data partitioning.
"""
from locust import HttpUser, constant_pacing, task


class FeederUser(HttpUser):
    wait_time = constant_pacing(1)  # hailstorms replaces this with the planned pace

    def on_start(self):
        hailstorm = getattr(self, "hailstorm", None)
        self.who = f"user{hailstorm.client_id}" if hailstorm else "user"

    @task(3)
    def hello(self):
        self.client.get(f"/{self.who}", name="/{name}")

    @task(1)
    def slow(self):
        with self.client.get("/wait/20/80", name="/wait/{min}/{max}", catch_response=True) as response:
            if not response.text.startswith("waited"):
                response.failure(f"unexpected answer: {response.text[:40]!r}")
