"""The workflow language: definitions parsed once into one model that every pass walks."""
