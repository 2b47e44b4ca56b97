# Copyright (c) docknet.fabric contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's private code says it is private, and the README's layout names every engine file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_UTILS = sorted(p for p in (REPO / 'plugins' / 'module_utils').glob('_*.py') if p.name != '__init__.py')
DOC_FRAGMENTS = sorted((REPO / 'plugins' / 'doc_fragments').glob('*.py'))
LAYOUT = (REPO / 'README.md').read_text(encoding='utf-8').split('## Layout', 1)[1].split('```')[1]


def docstrings(path):
    """The module docstring and, for doc fragments, the fragment class's docstring."""
    tree = ast.parse(path.read_text(encoding='utf-8'))
    texts = [ast.get_docstring(tree) or '']
    texts += [ast.get_docstring(node) or '' for node in tree.body if isinstance(node, ast.ClassDef)]
    return ' '.join(texts)


@pytest.mark.parametrize('path', MODULE_UTILS + DOC_FRAGMENTS, ids=lambda p: p.name)
def test_private_code_says_so(path):
    assert 'PRIVATE to docknet.fabric' in docstrings(path), '%s: say "PRIVATE to docknet.fabric" in its docstring' % path


@pytest.mark.parametrize('path', MODULE_UTILS, ids=lambda p: p.name)
def test_every_engine_file_is_in_the_readme_layout(path):
    assert 'plugins/module_utils/%s ' % path.name in LAYOUT, 'README.md layout: add %s with one line' % path.name


def test_engine_files_stay_small():
    """Issue 15's bound: a reader holds one file in mind (about 500 lines at most)."""
    sizes = {path.name: len(path.read_text(encoding='utf-8').splitlines()) for path in MODULE_UTILS}
    assert not {name: size for name, size in sizes.items() if size > 520}, sizes


def test_engine_classes_stay_small():
    """Issue 15's bound for a class: about 120 lines (pure steps become functions beside it)."""
    sizes = {}
    for path in MODULE_UTILS:
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.ClassDef):
                sizes['%s:%s' % (path.name, node.name)] = node.end_lineno - node.lineno + 1
    assert not {name: size for name, size in sizes.items() if size > 120}, sorted(sizes.items(), key=lambda i: -i[1])[:5]
