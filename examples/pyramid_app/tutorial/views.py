from pyramid.view import view_config


@view_config(route_name="home", renderer="json")
def home(request):
    return {"project": "tutorial", "version": 1}


@view_config(route_name="hello", renderer="string")
def hello(request):
    greeting = request.registry.settings["tutorial.greeting"]
    return f"{greeting}, {request.matchdict['name']}!"
