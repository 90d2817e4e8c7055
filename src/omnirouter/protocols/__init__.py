"""Protocols: pure wire formats, each used both ways (the client speaks it, or the upstream does).

One package per protocol (``openai_chat``, ``openai_responses``, ``anthropic``, ``gemini``) with its
``Codec`` (``base.py``), SSE parsing and framing (``sse``), the closed codec registry (``registry``).
Imported by module, so that loading one codec does not load them all.
"""
