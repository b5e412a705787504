"""Reading: what each file is (``discovery``), the dispatch from kind to parser (``readers``), and
one parser per format — mail (``mail``, ``mailboxes``, ``quoting``, ``html_text``, ``charsets``),
calendars (``calendar``, ``recurrence``), notes and to-dos (``notes``, ``todos``), documents
(``documents``); the days a text mentions (``mentions``); a per-file time limit (``timelimit``).
Each turns bytes into :class:`ingest.items.Item` objects; nothing here writes."""
