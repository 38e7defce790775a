"""pytest plugin: fixtures mockauth, mockauth_url, mockauth_requests, mockauth_httpx, mockauth_token."""
