# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """PRIVATE to docknet.fabric: connection options shared by every docknet.fabric module.

    Other collections should not extend it; its text may change in any release.
    """

    DOCUMENTATION = r'''
options:
  docker_host:
    description:
      - The Docker daemon to talk to, as C(unix:///path/to/docker.sock) or C(tcp://host:port).
      - When not given, the E(DOCKER_HOST) environment variable is used, then
        C(unix:///var/run/docker.sock).
      - Set it once for all modules of this collection with C(module_defaults) and
        C(group/docknet.fabric.docker).
    type: str
    aliases: [docker_url]
    version_added: 0.1.0
  tls:
    description:
      - Talk to O(docker_host) over TLS without checking the daemon's certificate.
      - Prefer O(validate_certs=true), which also checks it.
      - Falls back to E(DOCKER_TLS).
    type: bool
    default: false
    version_added: 0.1.0
  validate_certs:
    description:
      - Talk over TLS and check the daemon's certificate against O(ca_path).
      - Falls back to E(DOCKER_TLS_VERIFY).
    type: bool
    default: false
    aliases: [tls_verify]
    version_added: 0.1.0
  ca_path:
    description:
      - Path to the CA certificate that signed the daemon's certificate. Needed by O(validate_certs=true).
    type: path
    aliases: [ca_cert, tls_ca_cert]
    version_added: 0.1.0
  client_cert:
    description:
      - Path to the client certificate presented to the daemon. Goes with O(client_key).
    type: path
    aliases: [tls_client_cert]
    version_added: 0.1.0
  client_key:
    description:
      - Path to the private key of O(client_cert).
      - The key itself is never read into the task's arguments or results, only its path.
    type: path
    aliases: [tls_client_key]
    version_added: 0.1.0
  tls_hostname:
    description:
      - The name the daemon's certificate must carry, when it differs from the host in O(docker_host).
    type: str
    version_added: 0.1.0
  timeout:
    description:
      - Seconds to wait for an answer from the daemon. Falls back to E(DOCKER_TIMEOUT).
    type: int
    default: 60
    version_added: 0.1.0
  api_version:
    description:
      - The Docker API version to speak, like V(1.41), or V(auto) to use the newest the daemon and
        the Docker SDK share. Falls back to E(DOCKER_API_VERSION).
      - Options that need a newer API than the one spoken fail before any change, naming the
        option, the version it needs and the one spoken.
    type: str
    default: auto
    aliases: [docker_api_version]
    version_added: 0.1.0
requirements:
  - Docker SDK for Python (C(docker)) 7.0.0 or newer, on the host that runs the module.
notes:
  - With the default C(local) connection the module runs on the controller and reaches the daemon
    through O(docker_host); with C(ssh) it runs on the managed host and uses its local socket.
'''
