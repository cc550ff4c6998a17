"""A task that raises before it sends anything (a lookup in test data that is not there)."""
from locust import HttpUser, constant, task

PRODUCTS = {"p1": "/product1"}


class Buyer(HttpUser):
    wait_time = constant(1)

    @task
    def buy(self):
        self.client.get(PRODUCTS["p2"])
