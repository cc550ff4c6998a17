"""Makes the collection's planner filters usable unqualified in this checkout's playbooks.

The implementation lives once, in collections/ansible_collections/romram/hailstorms/plugins/filter.
"""
from ansible_collections.romram.hailstorms.plugins.filter.hailstorm import FilterModule  # noqa: F401
