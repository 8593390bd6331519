"""The carseg REST server: `create_app(model, settings)` (FastAPI); ``carseg serve`` runs it with uvicorn."""

from carseg_model.serving.app import create_app
from carseg_model.serving.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
