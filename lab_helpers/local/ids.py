"""Identifiers the local AWS hands out: random ids and ARNs of the local account."""

import secrets

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_id(n=12):
    """A random lower-case id of ``n`` letters and digits (execution ids, job name suffixes)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


class Account:
    """The local account and region: builds the ARNs its resources get."""

    def __init__(self, account_id, region):
        self.account_id = account_id
        self.region = region

    def arn(self, resource, service="sagemaker"):
        """``arn:aws:<service>:<region>:<account>:<resource>``."""
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"


def resource_name(name_or_arn):
    """A resource's name, given its name or its ARN (the ARN's last path segment)."""
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
