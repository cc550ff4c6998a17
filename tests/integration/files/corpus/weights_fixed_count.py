"""User classes with weights and a fixed_count (docs/writing-a-locustfile.rst, "weight and fixed_count")."""
from locust import HttpUser, constant, task


class WebUser(HttpUser):
    weight = 3
    wait_time = constant(1)

    @task
    def index(self):
        self.client.get("/index")


class MobileUser(HttpUser):
    weight = 1
    wait_time = constant(1)

    @task
    def app(self):
        self.client.get("/mobile")


class AdminUser(HttpUser):
    fixed_count = 1
    wait_time = constant(1)

    @task
    def admin(self):
        self.client.get("/admin")
