"""The console server: a WebSocket per console, a snapshot then events, role-checked commands.

- protocol.py  the JSON messages, versioned, validated (docs/console-protocol.md)
- commands.py  what each role may do, and doing it on the floor (audited)
- snapshot.py  the floor as a console first sees it; shift figures kept from the events
- server.py    the trio-websocket server: one contained session per connection
"""
