"""The expected state of a deployed host (``openclaw_infra.expected_state``) as a pytest-testinfra suite that an
operator runs against their own hosts::

    pytest --pyargs openclaw_infra.host_suite --hosts=ssh://admin@vps1 --sudo \
        --openclaw-inventory=inventories/hosts.py

Each host's facts are read by running the pyinfra facts' own commands through testinfra, then checked by
``ExpectedState``: one test per check, named ``HOST: CHECK``, failing with expected and found.
"""
