"""The HTTP edge: Starlette app, routes, the wire schemas and the error → problem+json table."""
