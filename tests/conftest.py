"""Shared test configuration: pytester runs the plugin the way users meet it."""

pytest_plugins = ["pytester"]
