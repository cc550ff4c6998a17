"""A TaskSet as examples/basic.py writes it: tasks as plain functions and as methods, one of them a
page that does not exist (Locust counts the 404 as a failure), and a nested TaskSet that interrupts."""
from locust import HttpUser, TaskSet, between, task


def index(l):  # noqa: E741 - as examples/basic.py names it
    l.client.get("/index")


def stats(l):  # noqa: E741
    l.client.get("/stats")


class Forum(TaskSet):
    @task(3)
    def thread(self):
        self.client.get("/thread")

    @task
    def leave(self):
        self.interrupt()


class UserTasks(TaskSet):
    tasks = {index: 2, stats: 1, Forum: 1}

    @task
    def page404(self):
        self.client.get("/status/404")


class WebsiteUser(HttpUser):
    wait_time = between(2, 5)
    tasks = [UserTasks]
