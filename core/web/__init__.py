"""Web pieces both apps share: security headers, secrets, safe redirects, the gunicorn server."""
