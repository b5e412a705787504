"""What every part of pdq shares: the one typed settings object (``settings``), the exceptions
(``errors``), the offline switches applied at every entry point (``privacy``) and the client for
OpenAI-compatible servers (``remote_client``)."""
