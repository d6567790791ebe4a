"""The routes: edit this file while the server runs."""

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket


async def homepage(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello from Starlette!")


async def hits(request: Request) -> JSONResponse:
    return JSONResponse({"hits": request.state.counter.hit()})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(f"echo: {text}")


routes = [
    Route("/", homepage),
    Route("/hits", hits),
    WebSocketRoute("/ws", echo),
]
