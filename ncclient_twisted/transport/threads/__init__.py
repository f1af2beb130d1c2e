"""The threads transport (``io="threads"``): ncclient's session threads (and paramiko's), one
per session, whose loops wake on work; connected on the project's pool."""
