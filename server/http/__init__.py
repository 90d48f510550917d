"""The HTTP face: the aiohttp app factory, routes, auth, errors and OpenAPI."""
