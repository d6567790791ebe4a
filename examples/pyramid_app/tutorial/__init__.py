"""The app factory PasteDeploy calls with the [app:main] settings of development.ini."""

from pyramid.config import Configurator


def main(global_config, **settings):
    """This function returns a Pyramid WSGI application."""
    with Configurator(settings=settings) as config:
        config.include(".routes")
        config.scan()
    return config.make_wsgi_app()
