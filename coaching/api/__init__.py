"""The coaching engine's REST API, one module per area; `urls.py` joins their routes."""
