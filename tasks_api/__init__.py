"""tasks-api: the application around the OpenAPI contract (factory, settings, CLI)."""

import warnings

# Connexion imports Starlette's test client at import time; its deprecation notice is noise in a server.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
