"""Head office's side of the hub: sign-in, the browser UI and the JSON API for people."""
