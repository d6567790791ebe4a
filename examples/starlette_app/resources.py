"""A stand-in for a resource the lifespan opens and closes (a DB pool, an HTTP client)."""


class Counter:
    def __init__(self) -> None:
        self.hits = 0
        self.open = True

    def hit(self) -> int:
        if not self.open:
            raise RuntimeError("used after close")
        self.hits += 1
        return self.hits

    def close(self) -> None:
        self.open = False
