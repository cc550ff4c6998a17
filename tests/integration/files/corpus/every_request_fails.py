"""A body check that the target's answer never passes: every request is a failure."""
from locust import HttpUser, constant, task


class Checked(HttpUser):
    wait_time = constant(1)

    @task
    def order(self):
        with self.client.get("/order", catch_response=True) as response:
            if '"status": "ok"' not in response.text:
                response.failure(f"unexpected answer: {response.text[:40]!r}")
