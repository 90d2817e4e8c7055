"""Wire formats of the synchronous media endpoints (embeddings, rerank, moderation, speech,
transcription, images): pure codecs, one module per wire format, each used both ways where both
sides exist.  ``base.py`` holds the contracts the relay calls.

Imported by module (``protocols.media.audio`` loads numpy and libsndfile), so that a route that needs
none of it does not pay for it.
"""
