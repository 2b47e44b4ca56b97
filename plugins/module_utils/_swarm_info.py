# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the read-only view of a node's swarm membership and, on a manager, of the swarm's nodes.

One `info` call says what the node itself knows (state, its managers); one
node listing on a manager says everything about the members. Nothing here
touches join tokens or the unlock key.
"""

from __future__ import annotations

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError
from ansible_collections.docknet.fabric.plugins.module_utils._swarm_nodes import node_view

PUBLIC_NODE_FIELDS = ('id', 'hostname', 'role', 'availability', 'labels', 'state', 'addr', 'leader', 'reachability')


def describe_node(node):
    """One entry of Docker's node listing, flattened to what playbooks decide on (the same view swarm_node uses)."""
    view = node_view(node)
    return {key: view[key] for key in PUBLIC_NODE_FIELDS}


def describe_membership(info):
    """What a node's `docker info` says about its own swarm membership."""
    swarm = info.get('Swarm') or {}
    cluster = swarm.get('Cluster') or {}
    return {
        'local_node_state': swarm.get('LocalNodeState') or 'inactive',
        'node_id': swarm.get('NodeID') or None,
        'node_addr': swarm.get('NodeAddr') or None,
        'is_manager': bool(swarm.get('ControlAvailable')),
        'cluster_id': cluster.get('ID') or None,
        'remote_managers': sorted(({'node_id': m.get('NodeID'), 'addr': m.get('Addr')}
                                   for m in swarm.get('RemoteManagers') or []),
                                  key=lambda m: m['addr'] or ''),
        'error': swarm.get('Error') or None,
        'hostname': info.get('Name'),
    }


def lost_quorum(message):
    """Docker's words when a manager answers but its swarm has no leader."""
    lower = message.lower()
    return 'does not have a leader' in lower or 'no leader' in lower or 'quorum' in lower


def gather(client):
    membership = describe_membership(client.call('Reading the node\'s swarm state', client.api.info))
    if membership['is_manager']:
        try:
            nodes = client.call('Listing the swarm\'s nodes', client.api.nodes)
        except FabricError as exc:
            if not lost_quorum(exc.msg):
                raise
            # The manager answers but its swarm has no leader: say so, not "does not answer".
            membership.update(leader_available=False, nodes=[], error=exc.msg)
            return membership
        membership['leader_available'] = True
        membership['nodes'] = sorted((describe_node(n) for n in nodes), key=lambda n: (n['addr'] or '', n['id']))
    return membership
