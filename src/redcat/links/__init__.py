"""种草直达 ad links: signed tokens, allow-listed destinations, the redirect service that logs
clicks, signed order postbacks, and the link channel's report."""
