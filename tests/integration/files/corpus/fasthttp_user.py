"""FastHttpUser as docs/increase-performance.rst writes it: GET and POST with headers, one name for many URLs."""
from locust import FastHttpUser, constant, task


class MyUser(FastHttpUser):
    wait_time = constant(1)

    @task
    def index(self):
        self.client.get("/index", headers={"Accept": "text/plain"})
        for item in range(2):
            self.client.post(f"/item{item}", json={"id": item}, name="/item{n}")
