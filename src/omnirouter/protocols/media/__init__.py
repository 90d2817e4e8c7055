"""Media wire formats for the non-chat endpoints (speech, transcription, images): pure helpers, no I/O.

Imported by module (``protocols.media.audio`` loads numpy and libsndfile), so that a route that needs
none of it does not pay for it.
"""
