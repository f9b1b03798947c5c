"""A threaded WSGI server for the sandbox that can drop a connection on purpose (the "drop" fault)."""

import contextlib
import logging
import socket
import sys
from wsgiref.simple_server import WSGIRequestHandler

from django.core.servers.basehttp import ThreadedWSGIServer
from django.core.servers.basehttp import WSGIRequestHandler as DjangoHandler
from django.core.wsgi import get_wsgi_application

logger = logging.getLogger("xsandbox")


class Handler(DjangoHandler):
    def get_environ(self):
        env = super().get_environ()
        env["xsandbox.drop"] = self._drop
        return env

    def _drop(self) -> None:
        # shutdown() acts on the connection at once; close() would wait for the response file
        # objects that still hold the socket, and the answer would go out after all.
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format, *args):
        if not getattr(self.server, "quiet", False):
            WSGIRequestHandler.log_message(self, format, *args)


def serve(host: str, port: int, *, quiet: bool = False) -> None:
    app = get_wsgi_application()
    httpd = ThreadedWSGIServer((host, port), Handler)
    httpd.daemon_threads = True
    httpd.quiet = quiet
    httpd.set_app(app)
    print(
        f"xsandbox: the local X API is listening on http://{host}:{httpd.server_port}", flush=True
    )
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        sys.stdout.flush()
