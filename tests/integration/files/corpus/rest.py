"""FastHttpUser.rest() as examples/rest.py writes it: a JSON API whose answers are checked; a body
that is not JSON is a failure (rest() marks it), an answer without a body is not."""
from locust import FastHttpUser, constant, task


class ApiUser(FastHttpUser):
    wait_time = constant(1)

    @task
    def t(self):
        with self.rest("DELETE", "/status/204") as resp:
            assert resp.js is None, "expected no body"
        with self.rest("POST", "/notjson", json={"foo": 1}) as resp:
            if resp.js and resp.js["foo"] != 1:
                resp.failure(f"Unexpected value of foo in response {resp.text}")
