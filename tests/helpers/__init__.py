"""Helpers the tests share: editor-like saves and waits with a deadline (:mod:`.util`), real
server processes (:mod:`.util`, :mod:`.servers`), in-process projects (:mod:`.inprocess`)
and a FastCGI client (:mod:`.fcgi_client`)."""
