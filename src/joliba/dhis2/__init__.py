"""DHIS2: a client to extract and push data, DHIS2 periods, and an emulator of DHIS2's Web API.

Usable without a Joliba server (in pipelines, notebooks and scripts): nothing here imports
server code. Import the parts you need: ``joliba.dhis2.client``, ``joliba.dhis2.periods``,
``joliba.dhis2.emulator``.
"""
