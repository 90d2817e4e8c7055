"""Wire formats of the synchronous media endpoints (embeddings, rerank, moderation, speech,
transcription, images): pure codecs, one module per wire format, each used both ways where both
sides exist.  ``base.py`` holds the contracts the relay calls."""
