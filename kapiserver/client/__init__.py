"""kapiserver's Twisted client of the API: REST with JSON, and client-go's machinery for controllers
(reflector, shared informers, work queue, expectations, events, leader election).  It knows HTTP and JSON
and nothing of the registry: every daemon (controller manager, scheduler, node) talks to the API through it."""
