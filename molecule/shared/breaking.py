"""Locustfile of the molecule abort run: every client asks the bundled target's /fail_after route,
which answers 200 for 20 s from its first request and 500 from then on (a service that breaks
mid-run)."""
from locust import HttpUser, task


class Breaking(HttpUser):
    @task
    def hit(self):
        self.client.get("/fail_after/20/500", name="/fail_after")
