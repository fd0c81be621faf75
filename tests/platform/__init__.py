"""Tests of the city platform: the reference server (platform_server/) and the floor's client and sync
(platform_client/).
"""
