"""Shared test code (no tests here): gateways, databases, processes, SDK checks, sample requests."""
