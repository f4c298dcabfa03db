"""The built-in client-conformance suite: the Autobahn TestSuite's fuzzingserver cases.

A WebSocket *client* under test (a browser, a library) connects to ``/autobahn`` on
either server and is judged with the suite's verdicts; see the README's "Testing clients".

* ``case``: what a case is (script, expectations); ``cases``: all 517, in order;
* ``session``: one run over a live connection; ``verdicts``: how it is judged;
* ``service``: the URL API (getCaseCount, runCase, ...) as built-in handlers;
* ``reports`` and ``report_pages``: the JSON and HTML reports.
"""
