"""Edit this file while the server runs: the next request gets the new text."""


def greet(name: str) -> str:
    return f"Hello, {name}!\n"
