"""A custom client that fires the request event itself, as examples/custom_xmlrpc_client does it
(here: the standard library's urllib over HTTP; an HTTP error is the request's exception)."""
import time
import urllib.error
import urllib.request

from locust import User, constant, task


class UrllibClient:
    """Wraps urllib and fires the *request* event when each call finishes, so that it is recorded."""

    def __init__(self, host, request_event):
        self.host = host
        self._request_event = request_event

    def get(self, path):
        request_meta = {
            "request_type": "urllib",
            "name": path,
            "start_time": time.time(),
            "response_length": 0,
            "response": None,
            "context": {},
            "exception": None,
        }
        start_perf_counter = time.perf_counter()
        try:
            with urllib.request.urlopen(self.host + path, timeout=10) as response:
                body = response.read()
                request_meta["response"] = body
                request_meta["response_length"] = len(body)
        except urllib.error.HTTPError as e:
            request_meta["exception"] = e
        request_meta["response_time"] = (time.perf_counter() - start_perf_counter) * 1000
        self._request_event.fire(**request_meta)  # This is what makes the request actually get logged in Locust
        return request_meta["response"]


class UrllibUser(User):
    abstract = True

    def __init__(self, environment):
        super().__init__(environment)
        self.client = UrllibClient(self.host, request_event=environment.events.request)


class MyUser(UrllibUser):
    wait_time = constant(1)

    @task(3)
    def get_time(self):
        self.client.get("/time")

    @task
    def get_unavailable(self):
        self.client.get("/status/503")
