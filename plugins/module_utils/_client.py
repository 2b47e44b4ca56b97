# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric (no compatibility promise outside the collection): the one Docker connection layer.

Modules never build a Docker client themselves: they call ``run_module``,
which connects with the options of the ``docknet.fabric.docker`` doc fragment,
runs the module's work and turns every expected failure into a one-line
``fail_json`` that says what to do. Expected failures are raised anywhere
below as ``FabricError``.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
import sys
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.docknet.fabric.plugins.module_utils._api_gates import (
    gate_failure,
    parse_version,
    version_at_least,
)

try:
    import docker
    import requests
    from docker.constants import MINIMUM_DOCKER_API_VERSION
    from docker.errors import APIError, DockerException
    from docker.tls import TLSConfig
    HAS_DOCKER_SDK = True
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    HAS_DOCKER_SDK = False

    class APIError(Exception):  # type: ignore[no-redef]
        """Stand-in so ``except APIError`` stays valid without the SDK."""

    DockerException = APIError  # type: ignore[misc]

DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'
DEFAULT_TIMEOUT = 60

# The oldest Docker SDK for Python the modules are tested with: Debian 12's python3-docker.
MINIMUM_SDK_VERSION = '5.0.3'
# Newer requests and urllib3 broke older SDKs (docker-py issues 3113 and 3256):
# (library, its first breaking version, the first SDK that copes with it).
_SDK_DEPENDENCY_BREAKS = (('urllib3', '2.0.0', '6.1.0'), ('requests', '2.32.0', '7.1.0'))
_LEADING_DIGITS = re.compile(r'(\d+)')


def _release(text):
    """'5.0.3' -> (5, 0, 3); a pre-release or local suffix ('7.1.0rc1', '5.0.3+dfsg') does not count."""
    numbers = [int(match.group(1)) for match in map(_LEADING_DIGITS.match, str(text).split('.')[:3]) if match]
    return tuple(numbers + [0] * (3 - len(numbers)))


def sdk_version_problem(sdk, dependencies=None, python='this Python'):
    """Why the Docker SDK ``sdk`` (a version string) cannot serve the modules, or None.

    ``dependencies`` maps requests and urllib3 to the versions installed next to it in ``python``.
    """
    fix = ('Install a newer one for the Python that runs the modules (ansible_python_interpreter): '
           'Debian 12 or Ubuntu 22.04 and later: apt install python3-docker; else pip install "docker>=7.1.0"; '
           'or set swarm_cluster_install_sdk: true in the docknet.fabric.swarm_cluster role.')
    if _release(sdk) < _release(MINIMUM_SDK_VERSION):
        return ('The Docker SDK for Python of %s is %s; docknet.fabric needs %s or newer. %s'
                % (python, sdk, MINIMUM_SDK_VERSION, fix))
    for library, breaks, copes in _SDK_DEPENDENCY_BREAKS:
        found = (dependencies or {}).get(library)
        if found and _release(found) >= _release(breaks) and _release(sdk) < _release(copes):
            return ('The Docker SDK for Python of %s is %s, which does not work with %s %s (it needs %s or newer, '
                    'or %s older than %s). %s' % (python, sdk, library, found, copes, library, breaks, fix))
    return None


def connection_argument_spec():
    """Options shared by every module; documented in doc_fragments/docker.py."""
    return dict(
        docker_host=dict(type='str', aliases=['docker_url'],
                         fallback=(env_fallback, ['DOCKER_HOST'])),
        tls=dict(type='bool', default=False, fallback=(env_fallback, ['DOCKER_TLS'])),
        validate_certs=dict(type='bool', default=False, aliases=['tls_verify'],
                            fallback=(env_fallback, ['DOCKER_TLS_VERIFY'])),
        ca_path=dict(type='path', aliases=['ca_cert', 'tls_ca_cert']),
        client_cert=dict(type='path', aliases=['tls_client_cert']),
        # A path to the key, not the key itself: masking it would only hide
        # which file was used when a TLS handshake fails.
        client_key=dict(type='path', aliases=['tls_client_key'], no_log=False),
        tls_hostname=dict(type='str'),
        timeout=dict(type='int', default=DEFAULT_TIMEOUT,
                     fallback=(env_fallback, ['DOCKER_TIMEOUT'])),
        api_version=dict(type='str', default='auto', aliases=['docker_api_version'],
                         fallback=(env_fallback, ['DOCKER_API_VERSION'])),
    )


class FabricError(Exception):
    """An expected failure. Its message is shown to the user as it is.

    ``details`` become extra keys of the failed result (for example the
    containers that block a removal), so playbooks can act on them.
    """

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


def _exception_graph(exc, limit=25):
    """Every exception reachable from ``exc``.

    requests and urllib3 hide the real cause (a refused connection, a missing
    socket) inside ``args``, ``reason`` or the exception chain; walk them all.
    """
    seen, todo, found = set(), [exc], []
    while todo and len(found) < limit:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        todo.extend([current.__cause__, current.__context__, getattr(current, 'reason', None)])
        todo.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return found


def explain_connection_error(exc, docker_host, timeout):
    """One line that says why ``docker_host`` could not be reached and what to do."""
    chain = _exception_graph(exc)

    def first(kind):
        return next((e for e in chain if isinstance(e, kind)), None)

    where = 'the Docker daemon at %s' % docker_host
    if first(ssl.SSLError) is not None:
        return ('TLS handshake with %s failed (%s). Check tls, validate_certs, ca_path, client_cert, '
                'client_key and tls_hostname.' % (where, first(ssl.SSLError)))
    if isinstance(first(OSError), PermissionError) or any(
            isinstance(e, OSError) and e.errno == errno.EACCES for e in chain):
        return ('Permission denied on %s. Run the task as a user allowed to use that socket '
                '(root, or a member of the docker group): become: true.' % where)
    if any(isinstance(e, OSError) and e.errno == errno.ENOENT for e in chain):
        return ('Cannot reach %s: no socket at that path. Is dockerd running? '
                'Set docker_host (or DOCKER_HOST) to the daemon\'s address.' % where)
    if first(ConnectionRefusedError) is not None or any(
            isinstance(e, OSError) and e.errno == errno.ECONNREFUSED for e in chain):
        return ('Cannot reach %s: connection refused (nothing listens there). Is dockerd running '
                'and listening on that address? Set docker_host to the right one.' % where)
    if first(socket.timeout) is not None or 'timed out' in str(exc).lower():
        return ('Cannot reach %s: no answer within %s seconds. Check the address and the network '
                'path, or raise timeout.' % (where, timeout))
    if any(isinstance(e, OSError) and e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) for e in chain):
        return 'Cannot reach %s: no route to that address. Check docker_host.' % where
    deepest = chain[-1] if chain else exc
    return 'Cannot talk to %s: %s' % (where, deepest)


def explain_api_error(exc):
    """The daemon's own words for an API error, without the HTTP noise, on one line."""
    explanation = getattr(exc, 'explanation', None)
    if explanation:
        text = explanation.decode() if isinstance(explanation, bytes) else str(explanation)
    else:
        text = str(exc)
    return one_line(text)


def one_line(text):
    """Docker 26+ joins several errors with newlines ("invalid endpoint settings:\\nuser specified ...");
    a module's message is one line: "invalid endpoint settings: user specified ...", others joined by "; "."""
    out = ''
    for line in (part.strip() for part in str(text).splitlines()):
        if not line:
            continue
        out = line if not out else out + (' ' if out.endswith(':') else '; ') + line
    return out


class _TLSHostnameAdapter(requests.adapters.HTTPAdapter if HAS_DOCKER_SDK else object):
    """Checks the daemon's certificate against ``tls_hostname`` instead of the URL's host.

    Docker SDK 7 dropped ``assert_hostname``; urllib3 still honours it.
    """

    def __init__(self, hostname, **kwargs):
        self._hostname = hostname
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs['assert_hostname'] = self._hostname
        super().init_poolmanager(*args, **kwargs)


class DockerClient:
    """A connected ``docker.APIClient`` plus what modules need around it."""

    def __init__(self, api, docker_host, pinned_version):
        self.api = api
        self.docker_host = docker_host
        self.pinned_version = pinned_version

    @property
    def api_version(self):
        return self.api.api_version

    def speaks_at_least(self, version):
        return version_at_least(self.api_version, version)

    def require(self, feature, who):
        """Fail before any change when the connection's API is too old for ``feature``."""
        source = ('the connection (api_version is pinned)' if self.pinned_version
                  else 'the daemon at %s' % self.docker_host)
        message = gate_failure(feature, self.api_version, who=who, speaks_source=source)
        if message:
            raise FabricError(message)

    def call(self, doing, method, *args, **kwargs):
        """Call an API method; a daemon error becomes a FabricError saying what was being done."""
        try:
            return method(*args, **kwargs)
        except APIError as exc:
            raise FabricError('%s: the Docker daemon answered: %s' % (doing, explain_api_error(exc)))
        except (requests.exceptions.RequestException, OSError) as exc:
            raise FabricError('%s: %s' % (doing, explain_connection_error(exc, self.docker_host, self.api.timeout)))


_SCHEMES = ('unix', 'tcp', 'http', 'https', 'ssh')


def check_connection_params(params):
    """Refuse connection options that cannot work, before anything is sent (pure)."""
    timeout = params.get('timeout')
    if timeout is not None and timeout < 1:
        raise FabricError('timeout %s: give a positive number of seconds (the default is %d).'
                          % (timeout, DEFAULT_TIMEOUT))
    docker_host = params.get('docker_host') or DEFAULT_DOCKER_HOST
    scheme, sep, rest = docker_host.partition('://')
    if not sep or scheme not in _SCHEMES:
        return  # host:port, npipe://...: the SDK's own forms, checked by the SDK
    if scheme == 'unix':
        if not rest.startswith('/'):
            raise FabricError('docker_host %r: a unix socket needs an absolute path, like unix:///var/run/docker.sock.'
                              % docker_host)
        if params.get('tls') or params.get('validate_certs'):
            raise FabricError('tls and validate_certs apply to tcp:// connections, but docker_host %s is a local '
                              'socket. Leave them out, or set docker_host to the daemon\'s TLS address '
                              '(tcp://host:2376).' % docker_host)
        return
    try:
        parts = urlsplit(docker_host)
        port = parts.port
    except ValueError as exc:
        raise FabricError('docker_host %r is not a valid address (%s). Write it like tcp://host:2376 or '
                          'tcp://[2001:db8::1]:2376.' % (docker_host, exc))
    if not parts.hostname:
        raise FabricError('docker_host %r names no host. Write it like %s://host%s.'
                          % (docker_host, scheme, '' if scheme == 'ssh' else ':2376'))
    if scheme == 'ssh':
        try:
            import paramiko  # noqa: F401  pylint: disable=unused-import
        except ImportError:
            raise FabricError('docker_host %s: ssh:// needs the Python package paramiko on the host that runs the '
                              'module (pip install paramiko). Or run the task on the Docker host itself with the '
                              'unix socket, or use tcp:// with TLS.' % docker_host)
    del port


def _looks_like_a_web_page(text):
    head = (text or '').lstrip()[:200].lower()
    return head.startswith('<!doctype') or head.startswith('<html') or '<head' in head or '<body' in head


def _tls_config(params):
    if not (params['tls'] or params['validate_certs']):
        return None
    cert, key = params.get('client_cert'), params.get('client_key')
    if bool(cert) != bool(key):
        raise FabricError('client_cert and client_key go together: give both or neither.')
    if params['validate_certs'] and not params.get('ca_path'):
        raise FabricError('validate_certs needs ca_path, the CA that signed the daemon\'s certificate.')
    try:
        return TLSConfig(client_cert=(cert, key) if cert else None,
                         ca_cert=params.get('ca_path') if params['validate_certs'] else None,
                         verify=params['validate_certs'])
    except DockerException as exc:
        raise FabricError('TLS settings are not usable: %s' % exc)


def _build_api(params, docker_host, version):
    """A ``docker.APIClient``; building it sends nothing to the daemon."""
    api = docker.APIClient(base_url=docker_host, version=version, timeout=params['timeout'],
                           tls=_tls_config(params))
    # The daemon connection is not web traffic: REQUESTS_CA_BUNDLE would replace
    # ca_path (requests lets the environment win over the session's CA), and
    # HTTP(S)_PROXY must not reroute it.
    api.trust_env = False
    if params.get('tls_hostname') and (params['tls'] or params['validate_certs']):
        api.mount('https://', _TLSHostnameAdapter(params['tls_hostname']))
    return api


def connect(params):
    """Connect to the daemon named by the connection options and check the API version."""
    check_connection_params(params)
    docker_host = params.get('docker_host') or DEFAULT_DOCKER_HOST
    pinned = params.get('api_version') or 'auto'
    pinned = None if pinned == 'auto' else pinned
    if pinned:
        try:
            parse_version(pinned)
        except ValueError as exc:
            raise FabricError('api_version: %s, or auto.' % exc)
    try:
        # Until the daemon has said which versions it speaks, talk the oldest
        # the SDK knows; with a pinned version, that one.
        api = _build_api(params, docker_host, pinned or MINIMUM_DOCKER_API_VERSION)
        # One request both proves the daemon answers (so an unreachable daemon
        # fails here, not mid-change) and tells which API versions it speaks.
        served = api.version(api_version=False)
        if not pinned:
            # What the SDK's version='auto' does, with the session set up first.
            return DockerClient(_build_api(params, docker_host, served['ApiVersion']), docker_host, None)
    except (DockerException, requests.exceptions.RequestException, OSError, KeyError, ValueError, TypeError) as exc:
        not_docker = ('%s answered, but not as a Docker daemon (%%s). Check the host and port of docker_host: '
                      'Docker listens on unix:///var/run/docker.sock, or tcp://host:2375/2376 when configured to.'
                      % docker_host)
        if isinstance(exc, APIError):
            words = explain_api_error(exc)
            if _looks_like_a_web_page(words):
                raise FabricError(not_docker % ('HTTP %s with a web page' % getattr(exc, 'status_code', '?')))
            raise FabricError('The Docker daemon at %s refused the connection: %s' % (docker_host, words))
        if isinstance(exc, requests.exceptions.InvalidJSONError) or (
                isinstance(exc, (ValueError, TypeError)) and not isinstance(exc, requests.exceptions.RequestException)):
            # JSON that does not parse, or parses into something else than Docker's version document.
            raise FabricError(not_docker % 'its answer is not Docker\'s version document')
        if isinstance(exc, KeyError):
            raise FabricError('%s answered without an API version: is it a Docker daemon?' % docker_host)
        raise FabricError(explain_connection_error(exc, docker_host, params['timeout']))
    newest, oldest = served.get('ApiVersion', '0.0'), served.get('MinAPIVersion', '0.0')
    if not version_at_least(newest, pinned) or not version_at_least(pinned, oldest):
        raise FabricError('api_version %s is not spoken by the daemon at %s (it speaks %s to %s). '
                          'Use api_version: auto.' % (pinned, docker_host, oldest, newest))
    return DockerClient(api, docker_host, pinned)


def run_module(module, work):
    """Connect, run ``work(client)`` (returns the result dict) and exit.

    The one place where expected failures become ``fail_json``; anything else
    is a bug and keeps its traceback.
    """
    if not HAS_DOCKER_SDK:
        # The message says what to install; the import traceback would add nothing for the user.
        module.fail_json(msg=missing_required_lib('docker (the Docker SDK for Python)'))
    problem = sdk_version_problem(docker.__version__, {
        'requests': requests.__version__, 'urllib3': getattr(sys.modules.get('urllib3'), '__version__', None)},
        python=sys.executable)
    if problem:
        module.fail_json(msg=problem)
    try:
        client = connect(module.params)
        result = work(client)
    except FabricError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(**result)
