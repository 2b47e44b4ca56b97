"""Stand-in for pip's get-pip.py bootstrap script, for machines without internet.

ansible-test creates its sanity virtual environments without pip and runs the
get-pip.py script it downloads, with pip's install arguments. This does the
same from what Python ships (ensurepip) and the package index pip already
knows, so `make sanity` needs no other download. The Makefile copies it to
the cache path ansible-test looks in first.
"""

import ensurepip
import os
import runpy
import sys

# get-pip.py's own flags; pip install does not know them.
GET_PIP_ONLY = {'--no-setuptools', '--no-wheel'}

# ensurepip points PIP_CONFIG_FILE at /dev/null for the rest of the process;
# the install below must see the machine's pip configuration (index, CA).
saved_environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
os.environ.clear()
os.environ.update(saved_environment)
sys.argv = ['pip', 'install'] + [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
runpy.run_module('pip', run_name='__main__', alter_sys=True)
