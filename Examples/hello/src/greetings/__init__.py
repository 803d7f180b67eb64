"""A tiny package that lives only on the client."""
from .format import decorate


def greet(name: str) -> str:
    return decorate(f"hello, {name}")
