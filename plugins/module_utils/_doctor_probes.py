# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: what swarm_doctor runs on the nodes (connections and probe containers).

``connect_all`` reaches every node's own daemon; ``HostProbes`` runs one
short-lived container per node in its host network namespace (links,
addresses, routes, TCP connects); ``OverlayProbe`` makes a temporary
attachable overlay with a probe per node and pings across it (the data path
and the MTU carried). Everything is labelled per run and removed in
``finally``; a leftover becomes a ``cleanup_failed`` finding.
"""

from __future__ import annotations

import threading
import time

from ansible_collections.docknet.fabric.plugins.module_utils._client import APIError, FabricError, connect
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_catalogue import (
    DEFAULT_OVERLAY_MTU, DOCTOR_LABEL, GOSSIP_PORT, ICMP_OVERHEAD, SWARM_PORT)
from ansible_collections.docknet.fabric.plugins.module_utils._doctor_diagnosis import (
    empty_matrix, host_script, overlay_mtu, overlay_script, parse_docker_time, parse_tagged)
from ansible_collections.docknet.fabric.plugins.module_utils._wait import REAL_CLOCK, retry_while

# The probes' endpoints leave the temporary overlay a moment after the containers are removed.
NETWORK_RELEASE_TIMEOUT = 30


def parallel(work, items):
    """``work(item)`` for every item in threads (each node has its own daemon); results in order."""
    results = [None] * len(items)
    errors = []

    def run(index, item):
        try:
            results[index] = work(item)
        except Exception as exc:  # pylint: disable=broad-except  # re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, item)) for i, item in enumerate(items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _connect(survey, node):
    params = dict(survey.params, docker_host=node['docker_host'])
    if node.get('tls_hostname'):
        params['tls_hostname'] = node['tls_hostname']
    try:
        client = connect(params)
        before = time.time()
        info = client.api.info()
        after = time.time()
        return node['name'], client, info, (before + after) / 2, None
    except FabricError as exc:
        return node['name'], None, None, None, exc.msg
    except (APIError, OSError) as exc:
        return node['name'], None, None, None, str(exc)


def connect_all(survey):
    """Every node's daemon: its client, its ``docker info`` and its clock offset (or a finding)."""
    for name, client, info, local_time, error in parallel(lambda node: _connect(survey, node), survey.nodes):
        node = survey.node(name)
        if client is None:
            survey.down.add(name)
            survey.add('node_unreachable', node=name, docker_host=node['docker_host'], error=error.rstrip('.'))
            continue
        survey.clients[name], survey.infos[name] = client, info
        try:
            survey.offsets[name] = parse_docker_time(info['SystemTime']) - local_time
        except (KeyError, ValueError):
            pass


class HostProbes:
    """A probe container per node in its host network namespace; its output by node."""

    def __init__(self, survey):
        self.survey = survey

    def _targets(self, name):
        survey = self.survey
        targets = []
        for manager, known in sorted(survey.swarm_nodes.items()):
            if known['role'] == 'manager' and manager != name and known.get('manager_addr'):
                host, _sep, port = known['manager_addr'].rpartition(':')
                targets.append(('manager:%s' % manager, host, int(port or SWARM_PORT)))
        for other in survey.names:
            address = survey.node(other).get('address')
            if other != name and address:
                targets.append(('gossip:%s' % other, address, GOSSIP_PORT))
        return targets

    def run(self):
        def one(name):
            return name, self.run_container(name, host_script(self._targets(name), self.survey.wait), 'host')

        for name, output in parallel(one, self.survey.live()):
            self.survey.host_outputs[name] = output

    def run_container(self, node, script, network_mode):
        """A short-lived labelled container running ``script``; its output. Always removed."""
        survey = self.survey
        client = survey.clients[node]
        container = client.call(
            'Creating a probe container on %s' % node, client.api.create_container, survey.image,
            command=['sh', '-c', script], name='docknet-doctor-%s-host-%s' % (survey.run_id, node),
            labels={DOCTOR_LABEL: survey.run_id}, host_config=client.api.create_host_config(network_mode=network_mode))
        try:
            client.call('Starting a probe container on %s' % node, client.api.start, container['Id'])
            client.call('Waiting for the probe on %s' % node, client.api.wait, container['Id'], timeout=120)
            return client.api.logs(container['Id'], stdout=True, stderr=False).decode('utf-8', 'replace')
        finally:
            try:
                client.api.remove_container(container['Id'], force=True)
            except APIError as exc:
                survey.add('cleanup_failed', error='container on %s: %s' % (node, exc), label=DOCTOR_LABEL,
                           run=survey.run_id)


class OverlayProbe:
    """The temporary overlay and a probe per node: reachability and the MTU carried, as matrices."""

    def __init__(self, survey, clock=REAL_CLOCK):
        self.survey = survey
        self.clock = clock
        self.name = 'docknet-doctor-%s' % survey.run_id
        self.labels = {DOCTOR_LABEL: survey.run_id}
        self.containers = {}
        self.network = None

    def run(self):
        """(reach, carried, mtu) matrices; everything made is removed, whatever happens."""
        names = self.survey.names
        reach, carried = empty_matrix(names), empty_matrix(names)
        mtu = DEFAULT_OVERLAY_MTU
        manager = self.survey.clients[self.survey.manager]
        try:
            self.network = manager.call('Creating the temporary overlay %s' % self.name, manager.api.create_network,
                                        self.name, driver='overlay', attachable=True, labels=self.labels)
            mtu = overlay_mtu(manager.api.inspect_network(self.network['Id']))
            addresses = self._start_probes()
            for node, output in parallel(lambda node: self._ping(node, addresses, mtu), list(addresses)):
                self._record(node, output, reach, carried, mtu)
        finally:
            self.cleanup()
        return reach, carried, mtu

    def _start_one(self, node):
        client = self.survey.clients[node]
        api = client.api
        try:
            container = client.call(
                'Creating the probe on %s' % self.name, api.create_container, self.survey.image,
                command=['sleep', '600'], name='%s-%s' % (self.name, node), labels=self.labels,
                host_config=api.create_host_config(network_mode=self.name),
                networking_config=api.create_networking_config({self.name: api.create_endpoint_config()}))
            self.containers[node] = container['Id']
            client.call('Starting the probe on %s' % self.name, api.start, container['Id'])
            inspected = api.inspect_container(container['Id'])
            return node, inspected['NetworkSettings']['Networks'][self.name]['IPAddress'], None
        except (FabricError, APIError, KeyError) as exc:
            return node, None, getattr(exc, 'msg', str(exc))

    def _start_probes(self):
        addresses = {}
        for node, address, error in parallel(self._start_one, self.survey.live()):
            if address:
                addresses[node] = address
            else:
                self.survey.add('probe_failed', node=node, error=error, image=self.survey.image)
        return addresses

    def _ping(self, node, addresses, mtu):
        peers = [(other, addr) for other, addr in sorted(addresses.items()) if other != node]
        script = overlay_script(peers, mtu, 10 + 2 * self.survey.wait)
        client = self.survey.clients[node]
        created = client.call('Running the overlay probe on %s' % node, client.api.exec_create,
                              self.containers[node], ['sh', '-c', script])
        return node, client.call('Running the overlay probe on %s' % node, client.api.exec_start,
                                 created['Id']).decode('utf-8', 'replace')

    @staticmethod
    def _record(node, output, reach, carried, mtu):
        for target, passed, largest in parse_tagged(output, 'PING'):
            if target not in reach[node]:
                continue
            reach[node][target] = 'ok' if passed == '1' else 'FAIL'
            if passed == '1':
                size = int(largest) + ICMP_OVERHEAD
                carried[node][target] = 'ok' if size >= mtu else size

    def cleanup(self):
        survey = self.survey
        for node, container_id in self.containers.items():
            try:
                survey.clients[node].api.remove_container(container_id, force=True)
            except Exception as exc:  # pylint: disable=broad-except  # cleanup must go on; reported as a finding
                survey.add('cleanup_failed', error='container %s-%s: %s' % (self.name, node, exc),
                           label=DOCTOR_LABEL, run=survey.run_id)
        if self.network is not None:
            self._remove_network()

    def _remove_network(self):
        api = self.survey.clients[self.survey.manager].api
        try:
            retry_while(lambda: api.remove_network(self.network['Id']),
                        lambda exc: isinstance(exc, APIError) and 'not found' not in str(exc).lower(),
                        NETWORK_RELEASE_TIMEOUT, clock=self.clock)
        except APIError as exc:
            if 'not found' not in str(exc).lower():
                self.survey.add('cleanup_failed', error='network %s: %s' % (self.name, exc), label=DOCTOR_LABEL,
                                run=self.survey.run_id)
