"""The tracking endpoint: an ASGI app (Starlette on uvicorn), run in the app or on its own (no Qt)."""
