"""The HTTP face of the gateway: the ASGI app and its routes."""

from omnirouter.api.app import GatewayApp
from omnirouter.api.gateway import Gateway, prepare_database

__all__ = ["Gateway", "GatewayApp", "prepare_database"]
