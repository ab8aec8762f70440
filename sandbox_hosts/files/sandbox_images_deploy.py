"""Harness only: the agents' sandbox images, made on a builder host by the project's own operations, for the cache
``sandbox_hosts.docker_images`` keeps (run through ``inventories/sandbox.py``)."""

from pyinfra.operations import apt

from openclaw_infra.deploys.linux_gateway import sandbox_images
from sandbox_hosts import config

apt.packages(name="debootstrap", packages=["debootstrap"])
sandbox_images(config.DEBIAN_MIRROR)
