#!/usr/bin/env bash
# Builds the Autobahn|Testsuite's `wstest` command (the reference WebSocket conformance tool used
# by autobahn-server.sh and autobahn-client.sh next to this file) into a fresh virtual environment.
# wstest is written in Python 2 and was never ported, so the environment runs Python 2.7 (taken
# from pyenv, or from a python2.7 on PATH); every package comes from PyPI, pinned to the last
# versions that still support 2.7. Takes about a minute; prints wstest's version when done.
#   usage: Tests/Conformance/install-autobahn.sh VENV_DIR
#   then:  VENV_DIR/bin/wstest -m fuzzingclient -s spec.json   (or -m fuzzingserver)
# The 9.* cases send messages of up to 16 MiB; a peer that caps messages lower fails them by
# design, so exclude them in a spec only where a test of the cap itself covers that limit.
set -euo pipefail
VENV=${1:?usage: install-autobahn.sh VENV_DIR}
PY2=$(ls "$HOME"/.pyenv/versions/2.7*/bin/python2.7 2>/dev/null | head -1 || true)
[ -n "$PY2" ] || { python2.7 -c pass 2>/dev/null && PY2=$(command -v python2.7); } || true
[ -n "$PY2" ] || { echo "no python2.7 found (pyenv versions 2.7.x expected)" >&2; exit 1; }
TOOLS=$(mktemp -d)
trap 'rm -rf "$TOOLS"' EXIT
python3 -m pip install -q --target "$TOOLS" "virtualenv<20.22"   # newer virtualenv cannot create 2.7 envs
PYTHONPATH="$TOOLS" python3 -m virtualenv -q -p "$PY2" "$VENV"
P="$VENV/bin/pip"
$P install -q 'setuptools==44.0.0' 'wheel==0.36.2' 'incremental==16.10.1'
$P install -q 'pyOpenSSL==19.1.0' 'cryptography==3.3.2'
$P install -q --no-build-isolation 'Twisted==19.10.0'
$P install -q 'txaio==2.1.0' 'zope.interface==4.6.0' 'jinja2==2.11.3' 'markupsafe==1.1.1' \
  'Werkzeug==1.0.1' 'klein==17.10.0' 'service_identity==18.1.0' 'unittest2==1.1.0' 'six==1.16.0' \
  'autobahn[twisted,accelerate]==0.10.9'
$P install -q --no-deps 'autobahntestsuite==25.10.1'
"$VENV/bin/wstest" --autobahnversion
