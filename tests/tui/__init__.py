"""Tests of the terminal console (tui/): model, link, screens (SVG snapshots), and the demo in a real
terminal.
"""
