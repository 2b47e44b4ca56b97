# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Docker doubles the engine tests share: a swarm manager that answers reads and fails the test on any write."""

from __future__ import annotations


class ReadOnlyApi:
    """A swarm manager's Docker API that answers reads and fails the test on any write (check mode writes nothing)."""

    api_version = '1.41'

    def __init__(self, networks, services=(), containers=(), volumes=()):
        self._networks = networks
        self._services = list(services)
        self._containers = list(containers)
        self._volumes = list(volumes)

    def networks(self):
        return self._networks

    def services(self):
        return self._services

    def containers(self, all=False, filters=None):
        return list(self._containers)

    def inspect_container(self, container_id):
        return next(c for c in self._containers if c['Id'] == container_id)

    def volumes(self, filters=None):
        # The network engine looks for records of interrupted recreations here.
        return {'Volumes': self._volumes}

    def info(self):
        return {'Swarm': {'LocalNodeState': 'active', 'ControlAvailable': True}}

    def __getattr__(self, name):
        def write(*args, **kwargs):
            raise AssertionError('check mode wrote: %s' % name)
        return write


class DoubleClient:
    """``_client.DockerClient`` without a daemon: calls go straight to the API double, every gate is open."""

    docker_host = 'unix:///double.sock'

    def __init__(self, api):
        self.api = api
        self.api_version = api.api_version

    def call(self, doing, method, *args, **kwargs):
        return method(*args, **kwargs)

    def require(self, feature, who):
        return None

    def speaks_at_least(self, version):
        return True
