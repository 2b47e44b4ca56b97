# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection tarball: what `ansible-galaxy collection build` ships, and what it must never ship.

The build runs on a copy of the files git tracks, with the leftovers of `make test` planted in it
(virtualenvs, build and test outputs, caches), so the check does not depend on what happens to
lie in the developer's tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# What `make test`, `make sanity`, ansible-lint and the benchmark leave in a checkout.
LEFTOVERS = [
    '.venv/bin/python',
    '.venv-sanity/bin/python',
    '.venv-bench/bin/python',
    '.build/collections/x',
    '.ansible/collections/x',
    '.cache/x',
    '.pytest_cache/x',
    'tests/output/x',
    'plugins/module_utils/__pycache__/_client.cpython-311.pyc',
    'bench/results/run.json',
    'docknet-fabric-0.0.1.tar.gz',
]

# Directories a user of the collection needs.
SHIPPED = ['plugins/modules/', 'plugins/module_utils/', 'plugins/doc_fragments/', 'roles/',
           'playbooks/', 'meta/runtime.yml', 'README.md', 'LICENSE']


def _tracked_files():
    done = subprocess.run(['git', 'ls-files', '-z'], cwd=REPO, capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip('not a git checkout: %s' % done.stderr.decode().strip())
    return [name for name in done.stdout.decode().split('\0') if name and (REPO / name).is_file()]


@pytest.fixture(scope='module')
def tarball_names(tmp_path_factory):
    galaxy = Path(sys.executable).parent / 'ansible-galaxy'
    if not galaxy.exists():
        pytest.skip('ansible-galaxy is not installed beside %s' % sys.executable)
    tree = tmp_path_factory.mktemp('tree')
    for name in _tracked_files():
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    for name in LEFTOVERS:
        planted = tree / name
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.write_text('leftover\n')
    out = tmp_path_factory.mktemp('dist')
    subprocess.run([str(galaxy), 'collection', 'build', '--output-path', str(out), str(tree)],
                   check=True, capture_output=True)
    (tarball,) = out.glob('docknet-fabric-*.tar.gz')
    with tarfile.open(tarball) as archive:
        return archive.getnames()


@pytest.mark.parametrize('leftover', LEFTOVERS)
def test_leftovers_are_not_shipped(tarball_names, leftover):
    top = leftover.split('/')[0] if not leftover.startswith(('plugins/', 'tests/', 'bench/')) \
        else leftover
    assert not [name for name in tarball_names if name == top or name.startswith(top + '/')
                or name == leftover]


@pytest.mark.parametrize('needed', SHIPPED)
def test_what_users_need_is_shipped(tarball_names, needed):
    assert [name for name in tarball_names if name == needed.rstrip('/') or name.startswith(needed)]


def test_no_bytecode_is_shipped(tarball_names):
    assert not [name for name in tarball_names if name.endswith('.pyc') or '__pycache__' in name]
