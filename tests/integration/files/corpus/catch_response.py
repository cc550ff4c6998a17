"""catch_response as docs/writing-a-locustfile.rst shows it ("Validating responses"): a body check
that fails, a 404 turned into a success."""
from locust import HttpUser, constant, task


class Checker(HttpUser):
    wait_time = constant(1)

    @task
    def checked(self):
        with self.client.get("/hello", catch_response=True) as response:
            if response.text != "Hello, hello":
                response.failure("Got wrong response")
        with self.client.get("/status/404", catch_response=True) as response:
            if response.status_code == 404:
                response.success()
        with self.client.get("/wrong", catch_response=True) as response:
            if response.text != "Success":
                response.failure("Got wrong response")
