from . import decorate


def shout(text: str) -> str:
    return decorate(text.upper() + "!")
