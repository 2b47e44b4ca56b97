# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection errors and API gates, by tables."""

from __future__ import annotations

import re

import errno
import socket
import ssl

import pytest
import requests
import urllib3

from ansible_collections.docknet.fabric.plugins.module_utils import _api_gates
from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    one_line,
    FabricError,
    connect,
    explain_connection_error,
    sdk_version_problem,
)

HOST = 'unix:///run/x/docker.sock'
TLS_HOST = 'tcp://198.18.255.1:2376'  # never contacted: the options fail first


def wrapped(cause):
    """What requests raises for a failed unix-socket or TCP call: the cause buried two levels down."""
    inner = urllib3.exceptions.ProtocolError('Connection aborted.', cause)
    outer = requests.exceptions.ConnectionError(inner)
    try:
        raise outer from inner
    except requests.exceptions.ConnectionError as exc:
        return exc


def max_retry(cause):
    pool_error = urllib3.exceptions.NewConnectionError(None, 'Failed to establish a new connection')
    pool_error.__cause__ = cause
    return requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, '/version', reason=pool_error))


@pytest.mark.parametrize('exc, expected', [
    (wrapped(FileNotFoundError(errno.ENOENT, 'No such file or directory')), 'no socket at that path'),
    (wrapped(PermissionError(errno.EACCES, 'Permission denied')), 'Permission denied on'),
    (wrapped(ConnectionRefusedError(errno.ECONNREFUSED, 'Connection refused')), 'connection refused'),
    (max_retry(ConnectionRefusedError(errno.ECONNREFUSED, 'Connection refused')), 'connection refused'),
    (max_retry(OSError(errno.EHOSTUNREACH, 'No route to host')), 'no route to that address'),
    (requests.exceptions.ReadTimeout('Read timed out. (read timeout=3)'), 'no answer within 3 seconds'),
    (wrapped(socket.timeout('timed out')), 'no answer within 3 seconds'),
    (wrapped(ssl.SSLError(1, 'CERTIFICATE_VERIFY_FAILED')), 'TLS handshake with'),
    (RuntimeError('something else'), 'Cannot talk to the Docker daemon at %s: something else' % HOST),
])
def test_connection_errors_are_explained(exc, expected):
    message = explain_connection_error(exc, HOST, 3)
    assert expected in message
    assert HOST in message
    assert '\n' not in message


def test_exception_cycles_do_not_hang():
    first = OSError(errno.ENOENT, 'gone')
    second = RuntimeError(first)
    first.__context__ = second
    assert 'no socket' in explain_connection_error(second, HOST, 1)


@pytest.mark.parametrize('text, expected', [
    ('1.41', (1, 41)), ('1.9', (1, 9)), (' 1.45 ', (1, 45)), ('1.41.0', (1, 41)),
])
def test_parse_version(text, expected):
    assert _api_gates.parse_version(text) == expected


@pytest.mark.parametrize('text', ['latest', '', '1', 'a.b', None])
def test_parse_version_rejects(text):
    with pytest.raises(ValueError, match='is not a Docker API version'):
        _api_gates.parse_version(text)


@pytest.mark.parametrize('have, need, ok', [
    ('1.41', '1.41', True), ('1.41', '1.40', True), ('1.9', '1.10', False), ('1.45', '1.44', True),
    ('1.30', '1.41', False), ('2.0', '1.99', True),
])
def test_version_at_least_compares_numbers_not_text(have, need, ok):
    assert _api_gates.version_at_least(have, need) is ok


def test_gate_failure_names_option_needed_and_spoken_versions():
    message = _api_gates.gate_failure('service.job_mode', '1.40', who='swarm_service', speaks_source='the daemon')
    assert message == ('swarm_service: option mode: replicated-job / global-job needs Docker API >= 1.41, '
                       'the daemon speaks 1.40. Upgrade the Docker engine, or leave the option out.')
    assert _api_gates.gate_failure('service.job_mode', '1.41') is None


def test_every_gate_has_a_valid_version_and_label():
    for feature, (version, label) in _api_gates.API_GATES.items():
        assert _api_gates.parse_version(version) >= (1, 24), feature
        assert label, feature


def base_params(**overrides):
    params = dict(docker_host=HOST, tls=False, validate_certs=False, ca_path=None, client_cert=None,
                  client_key=None, tls_hostname=None, timeout=5, api_version='auto')
    params.update(overrides)
    return params


@pytest.mark.parametrize('overrides, expected', [
    (dict(api_version='newest'), "api_version: 'newest' is not a Docker API version"),
    (dict(tls=True, client_cert='/c.pem', docker_host=TLS_HOST), 'client_cert and client_key go together'),
    (dict(validate_certs=True, docker_host=TLS_HOST), 'validate_certs needs ca_path'),
    (dict(timeout=0), 'timeout 0: give a positive number of seconds'),
    (dict(timeout=-1), 'timeout -1: give a positive number of seconds'),
    (dict(docker_host='tcp://[::1'), "docker_host 'tcp://[::1' is not a valid address"),
    (dict(docker_host='tcp://:2375'), "docker_host 'tcp://:2375' names no host"),
    (dict(docker_host='unix:///run/docker.sock', tls=True), 'tls and validate_certs apply to tcp:// connections'),
    (dict(docker_host='unix://run/docker.sock'), "docker_host 'unix://run/docker.sock': a unix socket needs an absolute"),
])
def test_bad_connection_options_fail_before_connecting(overrides, expected):
    with pytest.raises(FabricError, match='^' + re.escape(expected)):
        connect(base_params(**overrides))


def test_missing_socket_fails_with_one_line():
    with pytest.raises(FabricError) as caught:
        connect(base_params(docker_host='unix:///nonexistent/docknet.sock'))
    assert 'no socket at that path' in caught.value.msg


@pytest.mark.parametrize('text, expected', [
    ('network x not found', 'network x not found'),
    ('invalid endpoint settings:\nuser specified IP address is supported only when connecting to networks '
     'with user configured subnets',
     'invalid endpoint settings: user specified IP address is supported only when connecting to networks '
     'with user configured subnets'),
    ('first\nsecond\n', 'first; second'),
    ('a:\n  b\n\n  c', 'a: b; c'),
])
def test_daemon_errors_become_one_line(text, expected):
    assert one_line(text) == expected


def test_ssh_without_paramiko_says_what_to_install():
    try:
        import paramiko  # noqa: F401  pylint: disable=unused-import
        pytest.skip('paramiko is installed')
    except ImportError:
        pass
    with pytest.raises(FabricError, match='ssh:// needs the Python package paramiko'):
        connect(base_params(docker_host='ssh://root@198.18.255.1'))


def test_a_web_server_is_not_a_docker_daemon(tmp_path):
    """A plain web server (here: Python's, on loopback) gets one line, never its HTML page."""
    import subprocess
    import socket
    import sys
    import time
    (tmp_path / 'index.html').write_text('<!DOCTYPE html><html><body>It works</body></html>')
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    server = subprocess.Popen([sys.executable, '-m', 'http.server', str(port), '--bind', '127.0.0.1'],
                              cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        with pytest.raises(FabricError) as caught:
            connect(base_params(docker_host='tcp://127.0.0.1:%d' % port))
    finally:
        server.terminate()
        server.wait()
    assert 'answered, but not as a Docker daemon' in caught.value.msg
    assert '<' not in caught.value.msg


@pytest.mark.parametrize('sdk, dependencies, problem', [
    ('5.0.3', {'requests': '2.28.1', 'urllib3': '1.26.12'}, None),          # Debian 12's python3-docker
    ('7.1.0', {'requests': '2.32.3', 'urllib3': '2.2.1'}, None),
    ('7.1.0rc1', {'requests': '2.32.3', 'urllib3': '2.2.1'}, None),
    ('5.0.3+dfsg', {}, None),
    ('7', None, None),
    ('5.0.2', {}, 'is 5.0.2; docknet.fabric needs 5.0.3 or newer'),
    ('4.1.0', {'requests': '2.22.0'}, 'is 4.1.0; docknet.fabric needs 5.0.3 or newer'),
    ('5.0.3', {'requests': '2.32.3', 'urllib3': '1.26.18'}, 'does not work with requests 2.32.3 (it needs 7.1.0'),
    ('7.0.0', {'requests': '2.32.0', 'urllib3': '2.0.7'}, 'does not work with requests 2.32.0'),
    ('6.0.1', {'requests': '2.31.0', 'urllib3': '2.0.0'}, 'does not work with urllib3 2.0.0 (it needs 6.1.0'),
    ('6.1.3', {'requests': '2.31.0', 'urllib3': '2.0.0'}, None),
])
def test_sdk_version_problem(sdk, dependencies, problem):
    found = sdk_version_problem(sdk, dependencies, python='/usr/bin/python3')
    if problem is None:
        assert found is None
    else:
        assert problem in found and '/usr/bin/python3' in found and 'apt install python3-docker' in found, found
