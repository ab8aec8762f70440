"""An example inventory: copy it, change addresses and secret sources.

Secrets are never written here: each names where the control machine reads it (env, file or command).
Every `openclaw_*` key is one field of openclaw_infra.settings.Settings; omitted keys take its defaults.
"""

from openclaw_infra.inventory import checked_group

_token = {"env": "OPENCLAW_GATEWAY_TOKEN"}

# One gateway per Linux host (Docker isolation, or the inside of a Linux VM).
linux_gateways = checked_group(
    [
        ("vps1.example.net", {"ssh_user": "admin", "openclaw_isolation": "docker-isolation"}),
        (
            "openclaw-vm.local",
            {
                "openclaw_isolation": "linux-vm",
                "openclaw_firewall": {"gateway_allowed_sources": ["100.64.0.0/10"]},
            },
        ),
    ],
    {
        "openclaw_secrets": {
            "OPENCLAW_GATEWAY_TOKEN": _token,
            # Or from a password manager: {"command": ["pass", "show", "openclaw/anthropic"]}
            "ANTHROPIC_API_KEY": {"env": "ANTHROPIC_API_KEY"},
        },
        "openclaw_node": {"version": "24.21.0", "install_method": "tarball"},
        "openclaw_openclaw": {"version": "2026.9.6"},
    },
)

# Two profiles on one host under one user, >= 20 ports apart, each with its own token.
profiles_host = checked_group(
    [
        (
            "mini.example.net",
            {
                "openclaw_gateways": [
                    {
                        "profile": "wa",
                        "port": 18789,
                        "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "OPENCLAW_WA_TOKEN"}},
                    },
                    {
                        "profile": "sig",
                        "port": 18810,
                        "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "OPENCLAW_SIG_TOKEN"}},
                    },
                ],
                "openclaw_transcript_pruning": {"prune_after_days": 14},
            },
        ),
    ],
    {"openclaw_isolation": "docker-isolation"},
)
