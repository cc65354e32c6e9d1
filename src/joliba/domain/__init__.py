"""Pure logic with no I/O: errors, roles and permissions, paths, connection types."""
