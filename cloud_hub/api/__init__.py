"""The hub's JSON API under /api/v1/."""
