"""What mail servers do: the behaviour every transport calls, and what differs between MTAs.

What lives here: the shared role behaviour (:mod:`.roles`: what a submission server, relay, MX, filter,
forwarder or mailbox server decides at RCPT and DATA, where it sends the message next, the bounce it
writes) and the trace headers (:mod:`.headers`). Both transports — the simulator and the live servers —
call these plain functions of (topology, server, envelope, message, clock), so they cannot drift apart.

May use: the records (:mod:`mailhops.journey`, :mod:`mailhops.topology`, :mod:`mailhops.errors`) and
:mod:`mailhops.dns`. Nothing here runs a server, draws or reads a real message.
"""
