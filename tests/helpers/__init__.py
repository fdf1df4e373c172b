"""Shared test helpers: real local servers and small builders."""
