"""tasks-api: the application around the OpenAPI contract (factory, settings, CLI)."""
