"""A JupyterHub service that answers with the OAuth-identified user, written
against jupyterhub's own service helpers (as upstream's whoami-oauth example)."""
import json
import os
from urllib.parse import urlparse

from tornado import web
from tornado.ioloop import IOLoop

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join


class WhoAmI(HubOAuthenticated, web.RequestHandler):
    @web.authenticated
    def get(self):
        self.set_header("content-type", "application/json")
        self.write(json.dumps(self.get_current_user(), sort_keys=True))


def main():
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]
    app = web.Application(
        [
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
            (prefix, WhoAmI),
            (r".*", WhoAmI),
        ],
        cookie_secret=os.urandom(32),
    )
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(url.port, url.hostname)
    IOLoop.current().start()


if __name__ == "__main__":
    main()
