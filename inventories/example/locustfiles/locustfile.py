"""Starter locustfile: an ordinary Locust file, one GET of the service's front page per task.

Replace the task with the requests of your service. romram.hailstorms starts and paces every user
on its planned slot; `self.hailstorm.client_id` (unique over all load hosts) partitions test data.
"""
from locust import HttpUser, constant_pacing, task


class ServiceUser(HttpUser):
    wait_time = constant_pacing(1)  # hailstorms replaces this with the planned pace

    @task
    def front_page(self):
        self.client.get("/")
