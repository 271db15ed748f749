"""VOSpace over the catalogue: nodes, properties, UWS jobs, transfers, moves and copies.

What the ``/vospace`` endpoints do, without HTTP: the routers in
``librarian_server.vospace`` parse a request, call one function here and render the
result. Faults are VOSpace's named errors; Files are changed through the catalogue.
"""
