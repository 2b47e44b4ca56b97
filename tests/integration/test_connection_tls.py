# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection layer's TLS options against a real TLS handshake and a real daemon.

A small TLS terminator on loopback (certificates made here with openssl,
client certificate required) forwards each connection to node1's unix socket,
so the modules speak real TLS to a real dockerd without restarting it.
"""

from __future__ import annotations

import select
import socket
import ssl
import subprocess
import threading

import pytest

from harness import assert_failed, assert_ok

pytestmark = pytest.mark.lab


def openssl(*args, cwd):
    subprocess.run(['openssl', *args], cwd=cwd, check=True, capture_output=True)


def make_pki(directory, server_names):
    """A CA, a server certificate for ``server_names`` (subjectAltName form) and a client certificate."""
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=docknet test CA',
            '-keyout', 'ca-key.pem', '-out', 'ca.pem', cwd=directory)
    for name, extension in (('server', 'subjectAltName=%s' % server_names), ('client', 'extendedKeyUsage=clientAuth')):
        (directory / ('%s.ext' % name)).write_text(extension + '\n')
        openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=%s' % name,
                '-keyout', '%s-key.pem' % name, '-out', '%s.csr' % name, cwd=directory)
        openssl('x509', '-req', '-in', '%s.csr' % name, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem',
                '-CAcreateserial', '-days', '1', '-extfile', '%s.ext' % name, '-out', '%s.pem' % name, cwd=directory)
    return directory


class TLSTerminator:
    """Accepts TLS on 127.0.0.1 (client certificate required) and pipes each connection to a unix socket."""

    def __init__(self, pki, unix_path):
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / 'ca.pem'))
        self.context.load_cert_chain(str(pki / 'server.pem'), str(pki / 'server-key.pem'))
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.unix_path = unix_path
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                raw, _address = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()  # a refused handshake: exactly what some tests want
            return
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(self.unix_path)
        try:
            while True:
                ready, _w, _x = select.select([client, upstream], [], [], 30)
                if not ready:
                    return
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (upstream if source is client else client).sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self):
        self.stopped = True
        self.listener.close()


@pytest.fixture(scope='module')
def tls(lab, tmp_path_factory):
    pki = make_pki(tmp_path_factory.mktemp('pki'), 'DNS:docker.lab.test')
    other = make_pki(tmp_path_factory.mktemp('other-pki'), 'IP:127.0.0.1')
    terminator = TLSTerminator(pki, lab.node('node1')['socket'])
    yield {'pki': pki, 'other': other, 'host': 'tcp://127.0.0.1:%d' % terminator.port}
    terminator.close()


def tls_args(setup, **extra):
    args = {'docker_host': setup['host'], 'client_cert': str(setup['pki'] / 'client.pem'),
            'client_key': str(setup['pki'] / 'client-key.pem'), 'name': ['bridge'], 'timeout': 10}
    args.update(extra)
    return args


def test_tls_options_against_a_real_handshake(ansible, tls):
    ca = str(tls['pki'] / 'ca.pem')
    run = ansible.play([
        # The certificate names docker.lab.test, not 127.0.0.1: tls_hostname makes it match.
        {'docknet.fabric.network_info': tls_args(tls, validate_certs=True, ca_path=ca, tls_hostname='docker.lab.test')},
        {'docknet.fabric.network_info': tls_args(tls, validate_certs=True, ca_path=ca)},
        # Another CA signed nothing here: the daemon's certificate is rejected.
        {'docknet.fabric.network_info': tls_args(tls, validate_certs=True, ca_path=str(tls['other'] / 'ca.pem'),
                                                 tls_hostname='docker.lab.test')},
        # tls without validate_certs: encrypted, the certificate is not checked.
        {'docknet.fabric.network_info': tls_args(tls, tls=True)},
        # No client certificate: the server refuses the handshake.
        {'docknet.fabric.network_info': {'docker_host': tls['host'], 'tls': True, 'name': ['bridge'], 'timeout': 10}},
    ])
    named, mismatch, wrong_ca, unverified, anonymous = run.results()
    assert_ok(named, changed=False)
    assert [n['name'] for n in named['networks']] == ['bridge']
    assert_failed(mismatch, 'TLS handshake with the Docker daemon at %s failed' % tls['host'], 'tls_hostname')
    assert_failed(wrong_ca, 'TLS handshake with the Docker daemon at %s failed' % tls['host'])
    assert_ok(unverified, changed=False)
    assert_failed(anonymous, tls['host'])
    for failed in (mismatch, wrong_ca, anonymous):
        assert '\n' not in failed['msg']
