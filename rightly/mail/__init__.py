"""Email: the seam to mail servers (``smtp``) and the messages' templates (``templates``).

Below the services, beside ``rightly.http``: nothing here knows about requests or the database.
"""
