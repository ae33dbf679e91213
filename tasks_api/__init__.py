"""tasks-api: the application around the OpenAPI contract (factory, settings, CLI)."""

import warnings

# Connexion imports Starlette's test client, whose deprecation notice would be a line of plain text in the JSON log
# stream on stderr, however the app is started (the CLI, its worker processes, uvicorn --factory, a test).
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
