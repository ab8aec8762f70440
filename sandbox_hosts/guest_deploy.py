"""pyinfra deploy run against the guest image's root file system (``pyinfra @chroot/ROOTFS``) while it is built:
Node and OpenClaw at the project's pins, by the project's own operations, so the image holds exactly what the
Linux deploy would install (a VM under software emulation needs many minutes for ``npm install``).

OPENCLAW_GUEST_NODE_MIRROR  nodejs.org-layout base URL the tarball comes from (the sandbox's Node mirror)
"""

import os

from openclaw_infra.operations import node_runtime, openclaw_package
from openclaw_infra.settings import NodeRuntime, OpenClawPackage

node = NodeRuntime()
package = OpenClawPackage()

node_runtime.node(
    name=f"Node {node.version}",
    version=node.version,
    install_method=node.install_method,
    prefix=node.prefix,
    tarball_base_url=os.environ["OPENCLAW_GUEST_NODE_MIRROR"],
)
openclaw_package.openclaw(
    name=f"OpenClaw {package.version}", version=package.version, prefix=package.prefix, node_prefix=node.prefix
)
