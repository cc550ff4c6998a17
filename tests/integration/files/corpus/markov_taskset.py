"""A MarkovTaskSet as examples/markov_taskset.py writes it: tasks with weighted transitions."""
from locust import HttpUser, MarkovTaskSet, constant, transition, transitions


class Shopping(MarkovTaskSet):
    @transition("browse")
    def home(self):
        self.client.get("/home")

    @transition("cart", weight=2)
    @transition("home")
    def browse(self):
        self.client.get("/browse")

    @transitions({"checkout": 3, "browse": 1, "home": 1})
    def cart(self):
        self.client.get("/cart")

    @transitions([("home", 2), "browse"])
    def checkout(self):
        self.client.post("/checkout")


class Shopper(HttpUser):
    tasks = [Shopping]
    wait_time = constant(1)
