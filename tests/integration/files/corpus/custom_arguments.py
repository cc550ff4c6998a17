"""Custom arguments as examples/add_command_line_argument.py adds them (given by
hailstorm_locust_args, as on Locust's command line)."""
from locust import HttpUser, events, task


@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--my-argument", type=str, env_var="LOCUST_MY_ARGUMENT", default="", help="It's working")
    parser.add_argument("--env", choices=["dev", "staging", "prod"], default="dev", help="Environment")


@events.test_start.add_listener
def _(environment, **kw):
    print(f"Custom argument supplied: {environment.parsed_options.my_argument}")


class WebsiteUser(HttpUser):
    @task
    def my_task(self):
        options = self.environment.parsed_options
        self.client.get(f"/{options.my_argument}-{options.env}")
