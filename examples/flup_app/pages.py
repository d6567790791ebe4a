def render(path, environ):
    if path == "/":
        return "200 OK", "Hello from flup over FastCGI!\n"
    if path == "/echo":
        size = int(environ.get("CONTENT_LENGTH") or 0)
        data = environ["wsgi.input"].read(size)
        return "200 OK", f"{environ['REQUEST_METHOD']} {len(data)} bytes\n"
    return "404 Not Found", f"no page at {path}\n"
