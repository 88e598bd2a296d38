"""Management commands of the pgmonkey_django app."""
