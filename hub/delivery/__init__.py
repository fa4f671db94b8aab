"""Delivery of hub events outside the open tab (ARCHITECTURE.md P5).

Web push (RFC 8030/8291/8292), immediate e-mail and daily/weekly digests,
decided per user, event category and channel, with quiet hours and mutes.
Work runs as django-tasks tasks (database backend).
"""
