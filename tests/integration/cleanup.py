# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the network tests leave behind, removed whatever happened: containers and networks of one name prefix."""

from __future__ import annotations

import contextlib
import time

import docker


@contextlib.contextmanager
def cleanup(client, prefix):
    """Remove every container and network of ``client`` whose name starts with ``prefix``, whatever happened."""
    try:
        yield
    finally:
        for container in client.containers.list(all=True, filters={'name': prefix}):
            container.remove(force=True)
        for network in client.networks.list(names=[prefix]):
            if network.name.startswith(prefix):
                with contextlib.suppress(docker.errors.APIError):
                    network.remove()


def remove_network(network, seconds):
    """Remove a network, again while Docker still holds it (tasks and endpoints are released a moment later)."""
    deadline = time.time() + seconds
    while True:
        try:
            network.remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


@contextlib.contextmanager
def cleanup_nodes(prefix, nodes, network_nodes=None, seconds=15, manager=None):
    """Remove what a test made on several lab nodes under ``prefix``, whatever happened.

    The services of the swarm ``manager`` (when given) first, then the
    containers of ``nodes``, then the networks of ``network_nodes`` (default:
    ``nodes``): the config-only ones (``-cfg`` in the name) last, after the
    networks made from them, each retried while Docker still holds it.
    """
    try:
        yield
    finally:
        if manager is not None:
            for service in manager.services.list(filters={'name': prefix}):
                service.remove()
        for client in nodes:
            for container in client.containers.list(all=True, filters={'name': prefix}):
                container.remove(force=True)
        for client in network_nodes or nodes:
            for network in sorted(client.networks.list(names=[prefix]), key=lambda n: '-cfg' in n.name):
                if network.name.startswith(prefix):
                    remove_network(network, seconds)
