"""The web console at ``/dashboard`` (docs/console.md): static pages shipped in the package, and the
session sign-in that lets them call the admin API and the key holder's routes with a cookie."""

from omnirouter.dashboard.app import CSP, ConsoleApp, is_console_path
from omnirouter.dashboard.sessions import ConsoleSessions

__all__ = ["CSP", "ConsoleApp", "ConsoleSessions", "is_console_path"]
