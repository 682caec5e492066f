"""The wire protocol between box and hub (`protocol.py`); the box's agent lives in `appliance.sync`."""
