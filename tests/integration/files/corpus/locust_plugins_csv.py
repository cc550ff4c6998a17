"""A locustfile that needs an extra package (locust-plugins, hailstorm_pip_packages): test data from
a CSV file with its CSVReader, as its examples read it."""
import os

from locust import HttpUser, constant, task
from locust_plugins.csvreader import CSVReader

customers = CSVReader(os.path.join(os.path.dirname(os.path.abspath(__file__)), "customers.csv"))


class Customer(HttpUser):
    wait_time = constant(1)

    @task
    def account(self):
        customer_id, _name = next(customers)
        self.client.get(f"/{customer_id}", name="/{customer}")
