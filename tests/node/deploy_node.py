"""Test deploy: steps 1 and 3 of the Linux deploy alone, configured by environment variables.

NODE_TEST_VERSION      Node version (default: the project's pin)
NODE_TEST_METHOD       tarball | nodesource | preinstalled (default tarball)
NODE_TEST_BASE_URL     tarball mirror (default nodejs.org)
NODE_TEST_PREFIX       Node prefix (default /opt/node)
OPENCLAW_TEST_VERSION  also install this OpenClaw release to /opt/openclaw when set
"""

import os

from openclaw_infra.operations import node_runtime, openclaw_package
from openclaw_infra.versions import DEFAULT_NODE_VERSION

node_version = os.environ.get("NODE_TEST_VERSION", DEFAULT_NODE_VERSION)
node_prefix = os.environ.get("NODE_TEST_PREFIX", "/opt/node")
install_method = os.environ.get("NODE_TEST_METHOD", "tarball")
assert install_method in {"tarball", "nodesource", "preinstalled"}, install_method

node_runtime.node(
    name=f"Node {node_version} ({install_method})",
    version=node_version,
    install_method=install_method,  # type: ignore[arg-type]
    prefix=node_prefix,
    tarball_base_url=os.environ.get("NODE_TEST_BASE_URL", node_runtime.NODEJS_DIST),
)

openclaw_version = os.environ.get("OPENCLAW_TEST_VERSION")
if openclaw_version:
    openclaw_package.openclaw(name=f"OpenClaw {openclaw_version}", version=openclaw_version, node_prefix=node_prefix)
