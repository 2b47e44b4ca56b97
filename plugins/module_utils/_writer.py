# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to docknet.fabric: the one way an engine changes the Docker daemon, a recording writer.

Every engine that writes goes through one ``Writer``:

- ``write(what, method, *args)`` calls an SDK method (``client.api.remove_network``...);
  ``post(what, path, body, params=None)`` posts JSON to an API path the SDK has
  no method for (``/networks/create`` with every field, ``/services/{id}/update``)
  and keeps the SDK's private ``_post_json/_result/_url`` in this file only.
- In check mode neither sends anything: the action is recorded as planned and
  ``None`` is returned.
- Every action is recorded with ``what`` (a sentence a user can read) before it
  is sent, and marked done once the daemon has answered. A task that fails
  half-way reports ``changed: true`` and the actions done (``done``).

Usage (an engine)::

    writer = Writer(client, check_mode)
    with writer.reporting():          # a FabricError leaves carrying changed/done
        writer.write('Removing network web', client.api.remove_network, net_id)
        writer.post('Creating network web', '/networks/create', body)
    result['done'] = writer.done
"""

from __future__ import annotations

import contextlib

from ansible_collections.docknet.fabric.plugins.module_utils._client import FabricError


class Writer:
    """Sends (or in check mode only plans) the writes of one task and remembers them."""

    def __init__(self, client, check_mode):
        self.client = client
        self.check_mode = check_mode
        self.planned = []   # every write asked for, in order (what check mode reports)
        self.done = []      # the writes the daemon accepted, in order
        self.attempted = None  # the write in flight when a failure interrupted it

    @property
    def changed(self):
        """Did the daemon accept at least one write (or, in check mode, would it)?"""
        return bool(self.planned if self.check_mode else self.done)

    @property
    def actions(self):
        """What this task did, or in check mode would do: the list a module returns."""
        return list(self.planned if self.check_mode else self.done)

    def write(self, what, method, *args, **kwargs):
        """Call ``method`` through ``client.call`` (errors become FabricError), recording it."""
        return self.write_as(what, what, method, *args, **kwargs)

    def write_as(self, action, doing, method, *args, **kwargs):
        """Like ``write``, recorded as ``action`` (a short name a result lists) and described as ``doing``.

        ``doing`` is what an error message says was being done ("joining the swarm at ...").
        """
        self.planned.append(action)
        if self.check_mode:
            return None
        self.attempted = action
        result = self.client.call(doing, method, *args, **kwargs)
        self.attempted = None
        self.done.append(action)
        return result

    def record(self, action):
        """Record an action that needs no write of its own: done by another write, or a wait."""
        self.planned.append(action)
        if not self.check_mode:
            self.done.append(action)

    def post(self, what, path, body, params=None, *path_args):
        """POST ``body`` as JSON to the API ``path`` (``{0}`` placeholders filled from ``path_args``)."""
        api = self.client.api

        def send():
            url = api._url(path, *path_args)
            return api._result(api._post_json(url, data=body, params=params), json=True)

        return self.write(what, send)

    @contextlib.contextmanager
    def reporting(self):
        """Let a FabricError out with what was already done: ``changed`` and ``done``.

        ``done`` lists the writes the daemon accepted; ``interrupted`` is
        the write that was in flight (Docker may or may not have applied it).
        """
        try:
            yield self
        except FabricError as exc:
            self.annotate(exc)
            raise

    def annotate(self, exc):
        if self.check_mode:
            return exc
        exc.details.setdefault('changed', bool(self.done))
        exc.details.setdefault('done', list(self.done))
        if self.attempted:
            exc.details.setdefault('interrupted', self.attempted)
        return exc


def post_without_answer(api, path, body, *path_args):
    """POST ``body`` as JSON to an API ``path`` that answers with no content (``/networks/{id}/connect``).

    For a call made inside ``Writer.write`` (which records it): the SDK's
    private ``_post_json/_url/_raise_for_status`` stay in this file.
    """
    api._raise_for_status(api._post_json(api._url(path, *path_args), data=body))
