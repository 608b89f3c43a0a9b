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
