"""The sync protocol shared by box and hub, and (later) the box's sync agent."""
