"""Shared pytest fixtures for ncclient_twisted's tests."""

import os

import pytest
import pytest_twisted

from tests.support.netconfd import NetconfdServer, netconfd_available
from tests.support.transports import IO_MODES

#: CI sets this to 1 so the netconfd integration tests can never be skipped.
REQUIRE_NETCONFD_ENV = "NCCLIENT_TWISTED_REQUIRE_NETCONFD"

_NETCONFD_FIXTURES = ("netconfd", "netconfd_private", "netconfd_factory")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "netconfd: needs a real yuma123 netconfd behind a private sshd "
        "(added automatically to tests that use the netconfd fixtures)")
    config.addinivalue_line(
        "markers",
        "threads_only(reason): runs on io='threads' only (what io='reactor' does not do yet)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(name in getattr(item, "fixturenames", ())
               for name in _NETCONFD_FIXTURES):
            item.add_marker(pytest.mark.netconfd)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Each call of a Hypothesis test starts from its own ``inner_test``.

    pytest-twisted (1.14) wraps ``test.hypothesis.inner_test`` on the test function itself
    at every call, so the second item of a parametrized ``@given`` test (the ``io``
    fixture's "reactor" after "threads") runs a wrapper of a wrapper, which fails with
    "blockon cannot be called from the twisted greenlet". This runs first and puts the
    original back; pytest-twisted then wraps it once."""
    handle = getattr(pyfuncitem.obj, "hypothesis", None)
    if handle is not None:
        original = _HYPOTHESIS_INNER.setdefault(id(handle), (handle, handle.inner_test))[1]
        handle.inner_test = original


#: id(handle) -> (handle, its inner_test before pytest-twisted wrapped it); the handle is
#: kept so its id is not reused.
_HYPOTHESIS_INNER = {}


def _require_netconfd():
    if netconfd_available():
        return
    msg = ("netconfd, sshd or netconf-subsystem is not installed; "
           "run .ci/install-system-packages")
    if os.environ.get(REQUIRE_NETCONFD_ENV) == "1":
        pytest.fail("%s (and %s=1 is set)" % (msg, REQUIRE_NETCONFD_ENV),
                    pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def netconfd():
    """A NetconfdServer shared by the whole session: do not kill it."""
    _require_netconfd()
    with NetconfdServer() as server:
        yield server


@pytest.fixture
def netconfd_factory():
    """Call it to start fresh NetconfdServers; all are stopped afterwards."""
    _require_netconfd()
    servers = []

    def start(**kwargs):
        server = NetconfdServer(**kwargs)
        servers.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in reversed(servers):
            server.stop()


@pytest.fixture
def netconfd_private(netconfd_factory):
    """A fresh NetconfdServer for one test (free to kill or restart it)."""
    return netconfd_factory()


@pytest_twisted.async_yield_fixture
async def server():
    """An embedded NETCONF server (``ncclient_twisted.testing``) for one test, on port 0,
    user admin / password admin. A test module may define its own ``server``."""
    from twisted.internet import reactor

    from ncclient_twisted import testing

    s = await testing.serve(reactor, users={"admin": "admin"})
    yield s
    await s.stop()


# -- both transports -------------------------------------------------------------------
# A test module runs on both transports (io="threads" and io="reactor") by overriding
# its server fixture with ``tests.support.transports.on_both_transports``:
#
#     @pytest.fixture
#     def server(server, io):
#         return on_both_transports(server, io)
#
# ``@pytest.mark.threads_only("why")`` skips a test on the reactor transport (something
# it does not do yet, named in the reason).


@pytest.fixture(params=IO_MODES)
def io(request):
    """The transport a test's sessions use (``manager.connect(io=...)``)."""
    marker = request.node.get_closest_marker("threads_only")
    if marker is not None and request.param != "threads":
        pytest.skip("io=%r: %s" % (request.param, marker.args[0] if marker.args else "threads only"))
    return request.param
