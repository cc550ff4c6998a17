"""A SequentialTaskSet as examples/browse_docs_sequence_test.py writes it: the tasks in order."""
import random

from locust import HttpUser, SequentialTaskSet, between, task


class BrowseDocumentationSequence(SequentialTaskSet):
    def on_start(self):
        self.toc_urls = None

    @task
    def index_page(self):
        self.client.get("/docs")
        self.toc_urls = ["/quickstart", "/configuration", "/api"]
        # it is fine to do multiple requests in a single task, you dont need SequentialTaskSet for that
        self.client.get("/favicon")

    @task
    def load_page(self):
        self.client.get(random.choice(self.toc_urls), name="/page")


class AwesomeUser(HttpUser):
    tasks = [BrowseDocumentationSequence]
    wait_time = between(20, 600)
