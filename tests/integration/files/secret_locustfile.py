"""A locustfile that needs a secret: it reads it from the environment, as users do."""
import os

from locust import HttpUser, constant_pacing, task


class TokenUser(HttpUser):
    wait_time = constant_pacing(1)

    @task
    def with_token(self):
        self.client.get(f"/{os.environ['HS_TEST_TOKEN']}", name="/{token}")
