"""Pure parts, no I/O: records (stream record -> change), mapping (the index), settings."""
