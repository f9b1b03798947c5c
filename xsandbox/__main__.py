"""python -m xsandbox [--host H] [--port P] [--quiet] [--no-seed]

Migrates the sandbox's own database, seeds it on first run, and serves the local X API.
"""

import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m xsandbox", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("XSANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("XSANDBOX_PORT", "8765")))
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument("--no-seed", action="store_true", help="start with an empty world")
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = "xsandbox.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from xsandbox import clients, server

    db = settings.DATABASES["default"]["NAME"]
    os.makedirs(os.path.dirname(db), exist_ok=True)
    call_command("migrate", verbosity=0, interactive=False)
    if not args.no_seed:
        call_command("seed_sandbox", if_empty=True)
    clients.ensure_defaults()
    server.serve(args.host, args.port, quiet=args.quiet)


if __name__ == "__main__":
    main()
