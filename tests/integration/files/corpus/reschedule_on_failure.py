"""Ending a task at its first failed request as examples/response_validations.py does it: a request
listener, registered in an init listener, raises RescheduleTask (the confirm step is not sent then)."""
from locust import FastHttpUser, events, task
from locust.exception import RescheduleTask


class ShopUser(FastHttpUser):
    sent = 0

    @task
    def t(self):
        ShopUser.sent += 1
        self.client.request("POST", "/authenticate", json={"username": "foo", "password": "bar"})
        # every other checkout fails
        self.client.request("POST", "/status/503" if ShopUser.sent % 2 else "/status/200", json={"foo": "bar"})
        self.client.request("POST", "/confirm", json={"foo": "bar"})


@events.init.add_listener
def register_request_listener(environment, **kwargs):
    @events.request.add_listener
    def request(exception, **kwargs):
        if exception:
            raise RescheduleTask()
