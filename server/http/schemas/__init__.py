"""Request and response schemas, defined once (pydantic v2): the same models validate request
bodies (server.http.web.read_body), describe them in the OpenAPI document
(server.http.openapi) and, where a route has one, serialise its response. One module per area;
the constrained types they are built from are in `types`."""
