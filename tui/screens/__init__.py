"""The console's screens, one module each; `ConsoleScreen` is what they share."""

from __future__ import annotations

from tui.screens.base import ConsoleScreen

__all__ = ["ConsoleScreen"]
