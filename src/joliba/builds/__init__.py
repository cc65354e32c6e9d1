"""Pipeline code as files and environments: archives checked and unpacked, environments built
once per requirements, and the sandbox user code runs in. Below services: no database here."""
