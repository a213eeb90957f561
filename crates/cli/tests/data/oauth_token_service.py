"""A JupyterHub service that logs users in with OAuth through jupyterhub's own
service helpers, then shows the user the OAuth access token it holds for
them, so that a test can use that very token against the hub's REST API
(and see it refused once the user revokes the application)."""
import html
import json
import os
from urllib.parse import urlparse

from tornado import web
from tornado.ioloop import IOLoop

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join


class ShowToken(HubOAuthenticated, web.RequestHandler):
    @web.authenticated
    def get(self):
        user = self.get_current_user()
        token = self.hub_auth._get_token_cookie(self)
        self.set_header("content-type", "text/html; charset=utf-8")
        self.write(
            "<!DOCTYPE html><html lang='en'><head><title>token service</title><link rel='icon' href='data:,'></head><body>"
            f"<main><p id='user'>{html.escape(user['name'])}</p>"
            f"<pre id='oauth-token'>{html.escape(token or '')}</pre>"
            f"<pre id='scopes'>{html.escape(json.dumps(sorted(user.get('scopes', []))))}</pre>"
            "</main></body></html>"
        )


def main():
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    app = web.Application(
        [
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
            (prefix, ShowToken),
            (r".*", ShowToken),
        ],
        cookie_secret=os.urandom(32),
    )
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(url.port, url.hostname)
    IOLoop.current().start()


if __name__ == "__main__":
    main()
