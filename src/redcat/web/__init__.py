"""The web face: FastAPI dashboard and JSON API over precomputed report snapshots.

``refresh`` (:mod:`redcat.web.snapshot`) measures every brand once per retailer scope and writes
the report tables to a folder; the app (:func:`redcat.web.app.create_app`) only reads them.
"""
