"""The HTTP face of the gateway: the ASGI app (``GatewayApp``) and its routes.

Route modules are handed the worker's ``omnirouter.gateway.Gateway``; the app builds it.
``api.factory.create_app`` is what uvicorn's workers import.
"""

from omnirouter.api.app import GatewayApp

__all__ = ["GatewayApp"]
