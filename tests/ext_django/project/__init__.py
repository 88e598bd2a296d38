"""A small Django project (settings, one model, views) driven by pgmonkey YAML files."""
