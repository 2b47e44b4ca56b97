#!/usr/bin/python
# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: swarm_service
short_description: Swarm services on overlay networks, with partial updates, waiting and rollback
version_added: 0.1.0
description:
  - Creates, updates and removes a Docker Swarm service. Runs against a swarm manager.
  - B(Partial updates.) An option that is not given keeps the value the service has; only the
    options given are changed. A list or dict option, once given, is the whole list or dict
    (O(env) given replaces the whole environment).
  - Re-running the same task changes nothing. Docker's own defaults (for example
    C(update_config.parallelism=1) or C(endpoint_mode=vip)) and list order where Docker ignores it
    (O(env), O(constraints), O(networks), O(ports), O(mounts), O(secrets), O(configs)) are not
    differences. Images are compared by name without asking a registry; a digest pinned by the
    Docker CLI is ignored unless O(image) itself names a digest.
  - With O(wait=true) the module waits until every task Docker wants running runs the new spec
    (jobs, until they completed); when the change fails it reports the failed tasks and their errors,
    and with O(rollback_on_failure=true) rolls the service back to its previous spec.
  - Bad input fails before any change, naming the option, for example an empty O(name), a network
    that does not exist or is not swarm-scoped, a published port another service holds, an O(env) value
    given as a dict, a O(wait_timeout) or O(timeout) of 0 or less, or O(replicas) with a global O(mode).
  - One service (O(name)) or many (O(services)) per task; the list form converges them from one listing
    and waits for all of them together.
extends_documentation_fragment:
  - docknet.fabric.docker
  - docknet.fabric.attributes
  - docknet.fabric.attributes.actiongroup_docker
attributes:
  check_mode:
    support: full
    details:
      - Plans the same create, update or removal and reports it with the diff, without writing.
  diff_mode:
    support: full
    details:
      - The before and after service specs (in Docker's terms, with Docker's defaults filled in and
        networks shown by name); RV(changes) lists the options that differ.
options:
  name:
    description:
      - The service name. Give either O(name) (one service) or O(services) (many).
    type: str
    version_added: 0.1.0
  state:
    description:
      - V(present) creates or updates the service; V(absent) removes it.
      - With V(absent) and O(wait=true), the task ends when the service's tasks are gone from the swarm and
        its task containers from this node, so the networks it used can be removed right after.
      - In the list form, the default of each entry.
    type: str
    choices: [present, absent]
    default: present
    version_added: 0.1.0
  mode: &opt_mode
    description:
      - How tasks are scheduled. Docker cannot change the mode of an existing service; changing it
        fails and says to remove the service first.
      - New services are V(replicated) when not given.
    type: str
    choices: [replicated, global, replicated-job, global-job]
    version_added: 0.1.0
  replicas: &opt_replicas
    description:
      - Number of tasks of a V(replicated) service (V(1) for a new one when not given), or the
        number of completions of a V(replicated-job) (also its maximum concurrency).
      - Not allowed with V(global) or V(global-job).
    type: int
    version_added: 0.1.0
  image: &opt_image
    description:
      - The image, like V(docknet/probe:latest). Required to create a service.
      - Compared without a registry look-up.
    type: str
    version_added: 0.1.0
  command: &opt_command
    description: Replaces the image's entrypoint. A string is split like a shell would.
    type: raw
    version_added: 0.1.0
  args: &opt_args
    description: Arguments to the command (the image's CMD). A string is split like a shell would.
    type: raw
    version_added: 0.1.0
  env: &opt_env
    description:
      - Environment variables, as a dict or a list of C(KEY=VALUE). The whole environment once given.
      - Quote values that YAML would read as booleans.
    type: raw
    version_added: 0.1.0
  labels: &opt_labels
    description: Labels of the service. The whole set once given.
    type: dict
    version_added: 0.1.0
  container_labels: &opt_container_labels
    description: Labels of the service's containers. The whole set once given.
    type: dict
    version_added: 0.1.0
  hostname: &opt_hostname
    description: Hostname of the containers (may use templates like C({{.Task.Name}})).
    type: str
    version_added: 0.1.0
  user: &opt_user
    description: User (and group) the containers run as.
    type: str
    version_added: 0.1.0
  workdir: &opt_workdir
    description: Working directory of the containers.
    type: str
    version_added: 0.1.0
  init: &opt_init
    description: Run an init process inside the containers. Needs Docker API 1.37.
    type: bool
    version_added: 0.1.0
  networks: &opt_networks
    description:
      - Swarm-scoped networks (overlay) the tasks join. The whole list once given; order does not matter.
      - Each entry is a network name (or id), or a dict with C(name), C(aliases) (extra DNS names of the
        service on that network, a list) and C(driver_opts) (driver options of the attachment, a dict).
      - Every network must exist; give V([]) to detach from all.
    type: list
    elements: raw
    version_added: 0.1.0
  endpoint_mode: &opt_endpoint_mode
    description:
      - V(vip) gives the service one virtual IP; V(dnsrr) makes its name resolve to the tasks'
        addresses. V(dnsrr) cannot publish ports in V(ingress) mode.
    type: str
    choices: [vip, dnsrr]
    version_added: 0.1.0
  ports: &opt_ports
    description: Published ports. The whole list once given; order does not matter.
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions:
      published:
        description: The port outside. Docker picks one for V(ingress) ports when not given.
        type: int
        version_added: 0.1.0
      target:
        description: The port inside the container.
        type: int
        required: true
        version_added: 0.1.0
      protocol:
        description: The protocol.
        type: str
        choices: [tcp, udp, sctp]
        default: tcp
        version_added: 0.1.0
      mode:
        description: V(ingress) (routing mesh, on every node) or V(host) (only on the nodes running a task).
        type: str
        choices: [ingress, host]
        default: ingress
        version_added: 0.1.0
  constraints: &opt_constraints
    description: Placement constraints, like V(node.role==worker). Order does not matter.
    type: list
    elements: str
    version_added: 0.1.0
  preferences: &opt_preferences
    description: Spread preferences, each a descriptor like V(node.labels.zone). Order matters.
    type: list
    elements: str
    version_added: 0.1.0
  max_replicas_per_node: &opt_max_replicas_per_node
    description: At most this many tasks of the service on one node. Needs Docker API 1.40.
    type: int
    version_added: 0.1.0
  restart_policy: &opt_restart_policy
    description:
      - When tasks are restarted. Sub-options not given keep their current values (Docker's
        defaults on a service that has none).
    type: dict
    version_added: 0.1.0
    suboptions:
      condition:
        description: Restart condition.
        type: str
        choices: [none, on-failure, any]
        version_added: 0.1.0
      delay:
        description: Delay between restarts, like V(5s).
        type: str
        version_added: 0.1.0
      max_attempts:
        description: Maximum restarts (V(0) is unlimited).
        type: int
        version_added: 0.1.0
      window:
        description: Window used to evaluate the restart policy, like V(1m).
        type: str
        version_added: 0.1.0
  update_config: &opt_update_config
    description:
      - How updates roll out. Sub-options not given keep their current values (Docker's defaults on
        a service that has none).
    type: dict
    version_added: 0.1.0
    suboptions: &rollout
      parallelism:
        description: Tasks updated at once (V(0) is all at once).
        type: int
        version_added: 0.1.0
      delay:
        description: Delay between batches, like V(10s).
        type: str
        version_added: 0.1.0
      failure_action:
        description: What Docker does when a task fails (V(rollback) is for O(update_config) only).
        type: str
        choices: [continue, pause, rollback]
        version_added: 0.1.0
      monitor:
        description: How long a new task is watched for failure, like V(5s).
        type: str
        version_added: 0.1.0
      max_failure_ratio:
        description: Share of tasks that may fail during the rollout.
        type: float
        version_added: 0.1.0
      order:
        description: Stop the old task first, or start the new one first.
        type: str
        choices: [stop-first, start-first]
        version_added: 0.1.0
  rollback_config: &opt_rollback_config
    description: How rollbacks roll out; same sub-options as O(update_config). Needs Docker API 1.28.
    type: dict
    version_added: 0.1.0
    suboptions: *rollout
  resources: &opt_resources
    description: Resource limits and reservations of each task. Sub-options not given keep their values.
    type: dict
    version_added: 0.1.0
    suboptions:
      limits:
        description: Limits.
        type: dict
        version_added: 0.1.0
        suboptions:
          cpus: &resource_cpus
            description: CPUs, like V(0.5).
            type: float
            version_added: 0.1.0
          memory: &resource_memory
            description: Memory, like V(512M) or V(1G).
            type: str
            version_added: 0.1.0
          pids:
            description: Maximum number of processes.
            type: int
            version_added: 0.1.0
      reservations:
        description: Reservations.
        type: dict
        version_added: 0.1.0
        suboptions:
          cpus: *resource_cpus
          memory: *resource_memory
  healthcheck: &opt_healthcheck
    description: The containers' health check, replacing the image's. O(healthcheck.test=NONE) disables it.
    type: dict
    version_added: 0.1.0
    suboptions:
      test:
        description: A shell command string, V(NONE), or a list like V([CMD, wget, -q, localhost]).
        type: raw
        version_added: 0.1.0
      interval:
        description: Time between checks, like V(30s).
        type: str
        version_added: 0.1.0
      timeout:
        description: Time a check may take.
        type: str
        version_added: 0.1.0
      retries:
        description: Failures in a row that make the container unhealthy.
        type: int
        version_added: 0.1.0
      start_period:
        description: Time after start during which failures do not count.
        type: str
        version_added: 0.1.0
  mounts: &opt_mounts
    description: Mounts of the containers. The whole list once given; order does not matter.
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions:
      source:
        description: Volume name or host path (none for V(tmpfs)).
        type: str
        version_added: 0.1.0
      target:
        description: Path inside the container.
        type: str
        required: true
        version_added: 0.1.0
      type:
        description: Mount type.
        type: str
        choices: [bind, volume, tmpfs]
        default: volume
        version_added: 0.1.0
      readonly:
        description: Mount read-only.
        type: bool
        default: false
        version_added: 0.1.0
  secrets: &opt_secrets
    description:
      - Swarm secrets given to the containers as files, by name (never their content); each must exist.
        The whole list once given; order does not matter.
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions: &refs
      name:
        description: Name of the secret (or, in O(configs), of the config).
        type: str
        required: true
        version_added: 0.1.0
      target:
        description: File name inside the container (defaults to the name).
        type: str
        version_added: 0.1.0
      uid:
        description: Owner of the file.
        type: str
        version_added: 0.1.0
      gid:
        description: Group of the file.
        type: str
        version_added: 0.1.0
      mode:
        description: File mode, like V(0o440) (default V(0o444)).
        type: int
        version_added: 0.1.0
  configs: &opt_configs
    description:
      - Swarm configs given to the containers as files, by name; each must exist. The whole list once given;
        order does not matter.
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions: *refs
  stop_signal: &opt_stop_signal
    description: Signal that stops the containers.
    type: str
    version_added: 0.1.0
  stop_grace_period: &opt_stop_grace_period
    description: Time to wait after O(stop_signal) before killing, like V(10s).
    type: str
    version_added: 0.1.0
  dns: &opt_dns
    description: DNS servers of the containers, in order.
    type: list
    elements: str
    version_added: 0.1.0
  dns_search: &opt_dns_search
    description: DNS search domains, in order.
    type: list
    elements: str
    version_added: 0.1.0
  dns_options: &opt_dns_options
    description: Resolver options, like V(ndots:2).
    type: list
    elements: str
    version_added: 0.1.0
  wait:
    description:
      - Wait until the service has converged (every desired task running the new spec; jobs
        completed) and fail, naming the failed tasks and their errors, when it does not.
      - Also waits for an update of the service that is already under way (started by an earlier run,
        for example one cut short by a manager that died) and reports it in RV(in_progress).
      - With O(state=absent), wait until the service's tasks are gone (see O(state)).
      - In the list form, the default of each entry; the waits of all entries run together.
    type: bool
    default: true
    version_added: 0.1.0
  wait_timeout:
    description:
      - Seconds to wait for convergence (and again for a rollback). Must be above 0.
      - In the list form, the default of each entry.
    type: int
    default: 120
    version_added: 0.1.0
  rollback_on_failure:
    description:
      - When an update does not converge, roll the service back to its previous spec (Docker's
        rollback) and report it with RV(rolled_back). Needs O(wait=true). A newly created service has
        nothing to roll back to.
      - In the list form, the default of each entry.
    type: bool
    default: false
    version_added: 0.1.0
  services:
    description:
      - Many services, each a dict of the options of the single form with its own O(services[].state).
      - One task converges them all from one listing of the services (and of their tasks where waiting
        needs them). Every check runs before the first change; then creates, updates and removals are
        sent, and the waits of all services run together, so ten updated services wait about as long
        as the slowest one.
      - A failure names the service; the services already done are reported in RV(services) and the
        ones after a refused change are left untouched.
      - Mutually exclusive with O(name) and with the service options at the top level; O(state),
        O(wait), O(wait_timeout) and O(rollback_on_failure) at the top level are the defaults of each entry.
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions:
      name:
        description: The service name.
        type: str
        required: true
        version_added: 0.1.0
      state:
        description: V(present) or V(absent); the top-level O(state) when not given.
        type: str
        choices: [present, absent]
        version_added: 0.1.0
      wait:
        description: Wait for this service; the top-level O(wait) when not given.
        type: bool
        version_added: 0.1.0
      wait_timeout:
        description: Seconds to wait for this service; the top-level O(wait_timeout) when not given.
        type: int
        version_added: 0.1.0
      rollback_on_failure:
        description: Roll this service back when its update fails; the top-level O(rollback_on_failure) when not given.
        type: bool
        version_added: 0.1.0
      mode: *opt_mode
      replicas: *opt_replicas
      image: *opt_image
      command: *opt_command
      args: *opt_args
      env: *opt_env
      labels: *opt_labels
      container_labels: *opt_container_labels
      hostname: *opt_hostname
      user: *opt_user
      workdir: *opt_workdir
      init: *opt_init
      networks: *opt_networks
      endpoint_mode: *opt_endpoint_mode
      ports: *opt_ports
      constraints: *opt_constraints
      preferences: *opt_preferences
      max_replicas_per_node: *opt_max_replicas_per_node
      restart_policy: *opt_restart_policy
      update_config: *opt_update_config
      rollback_config: *opt_rollback_config
      resources: *opt_resources
      healthcheck: *opt_healthcheck
      mounts: *opt_mounts
      stop_signal: *opt_stop_signal
      stop_grace_period: *opt_stop_grace_period
      dns: *opt_dns
      dns_search: *opt_dns_search
      dns_options: *opt_dns_options
      secrets: *opt_secrets
      configs: *opt_configs
notes:
  - Every option exists since version 0.1.0 of docknet.fabric; C(ansible-doc) prints "added in" of top-level options
    only with C(-v).
author:
  - docknet.fabric maintainers (@docknet)
'''

EXAMPLES = r'''
- name: A web service on an overlay, reachable by name from the other tasks
  docknet.fabric.swarm_service:
    name: web
    image: docknet/probe:latest
    command: [httpd, -f, -p, "8080"]
    replicas: 2
    networks:
      - name: backend
        aliases: [www]
    endpoint_mode: dnsrr
    ports:
      - {published: 8080, target: 8080, mode: host}
    env:
      LOG_LEVEL: info
    update_config: {parallelism: 1, monitor: 10s, order: start-first}
    rollback_on_failure: true

- name: Change one variable; everything else stays as it is
  docknet.fabric.swarm_service:
    name: web
    env:
      LOG_LEVEL: debug

- name: One agent on every node
  docknet.fabric.swarm_service:
    name: agent
    mode: global
    image: docknet/probe:latest
    command: [sleep, infinity]
    constraints: [node.platform.os==linux]
    resources:
      limits: {cpus: 0.25, memory: 64M}

- name: Remove the service
  docknet.fabric.swarm_service:
    name: web
    state: absent

- name: Many services in one task, from one listing; their waits run together
  docknet.fabric.swarm_service:
    services:
      - name: api
        image: docknet/probe:latest
        command: [sleep, infinity]
        replicas: 2
        endpoint_mode: dnsrr
        networks: [backend]
      - name: worker
        image: docknet/probe:latest
        command: [sleep, infinity]
        networks: [backend]
      - name: old-cron
        state: absent
    wait_timeout: 180
'''

RETURN = r'''
actions:
  description:
    - What was done (or would be, in check mode). The single form gives V(create), V(update) or V(remove);
      the list form one C(<action> <service>) per service changed, like V(update api).
  returned: always
  type: list
  elements: str
  sample: [update]
changes:
  description:
    - The options (by their names in this module) whose values differ between the service and the task.
  returned: with O(name)
  type: list
  elements: str
  sample: [env, replicas]
in_progress:
  description:
    - Why an unchanged service was not settled when the task started (V(update in progress),
      V(rollback in progress), V(tasks still run an older spec), V(update paused)); with O(wait=true) the task
      waited for it.
  returned: with O(name), when the service was not settled
  type: str
services:
  description:
    - The list form, one entry per service in the order given, with C(name), C(action) (V(create), V(update),
      V(remove) or V(none)), C(changes), and where they apply C(in_progress), C(converged), C(failed_tasks),
      C(rolled_back) and C(untouched) (a change not sent because an earlier one was refused).
  returned: with O(services)
  type: list
  elements: dict
  sample: [{name: api, action: update, changes: [env], converged: true}, {name: worker, action: none, changes: []}]
spec:
  description: The service spec after the change (in check mode, the planned one), normalised, networks by name.
  returned: with O(name) and O(state=present)
  type: dict
service:
  description: The service as Docker reports it after the change (not in check mode for a planned change).
  returned: with O(name), O(state=present) and the service exists
  type: dict
converged:
  description: Whether the service converged after the change.
  returned: when the module waited
  type: bool
failed_tasks:
  description:
    - The tasks that failed (or never started) when the change did not converge, each with C(id),
      C(node), C(slot), C(state), C(desired_state), C(message), C(error) and C(exit_code).
  returned: on a failed change
  type: list
  elements: dict
rolled_back:
  description: Whether the service was rolled back to its previous spec.
  returned: on a failed change
  type: bool
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.docknet.fabric.plugins.module_utils._client import (
    connection_argument_spec,
    run_module,
)
from ansible_collections.docknet.fabric.plugins.module_utils._service import run
from ansible_collections.docknet.fabric.plugins.module_utils._service_args import (
    MODULE_KWARGS,
    argument_spec,
)


def main():
    module = AnsibleModule(argument_spec=argument_spec(connection_argument_spec()), **MODULE_KWARGS)
    if module.params['timeout'] is not None and module.params['timeout'] <= 0:
        # Checked before connecting: a zero or negative socket timeout is not a wait, it breaks the connection.
        module.fail_json(msg='timeout must be a number of seconds above 0, not %s.' % module.params['timeout'])
    run_module(module, lambda client: run(client, module.params, check_mode=module.check_mode))


if __name__ == '__main__':
    main()
