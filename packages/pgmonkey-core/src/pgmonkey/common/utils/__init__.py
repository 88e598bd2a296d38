"""Compatibility package: import paths used by pgmonkey 3.x/4.x users."""
