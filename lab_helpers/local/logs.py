"""CloudWatch Logs emulated for local mode: as much as reading job logs needs.

Job logs (and Lambda functions' logs, ``/aws/lambda/<function>``) are written to the control-plane store as they run (:mod:`lab_helpers.local.jobs`);
``DescribeLogStreams`` and ``GetLogEvents`` read them back with AWS's shapes and tokens.
"""

from ..shapes import JOB_KINDS
from .errors import ApiError, not_implemented

LOG_GROUPS = tuple(kind.log_group for kind in JOB_KINDS.values())


class LogsApi:
    """``DescribeLogStreams`` and ``GetLogEvents`` over the store's log events."""

    def __init__(self, store, account):
        self.store = store
        self.account = account

    def call(self, operation, params):
        """Answer one CloudWatch Logs operation (botocore's name for it) with AWS's response shape."""
        handler = getattr(self, "op_" + operation, None)
        if handler is None:
            raise not_implemented(f"CloudWatch Logs {operation} is not emulated by the kit's local mode.")
        return handler(params)

    def op_DescribeLogStreams(self, p):
        group = p["logGroupName"]
        if group not in LOG_GROUPS and not group.startswith("/aws/lambda/"):
            raise ApiError("ResourceNotFoundException", "The specified log group does not exist.")
        streams = self.store.log_streams(group, p.get("logStreamNamePrefix", ""))
        if p.get("descending"):
            streams.reverse()
        limit = int(p.get("limit", 50))
        start = int(p.get("nextToken") or 0)
        page = streams[start:start + limit]
        out = {"logStreams": [{
            "logStreamName": s["stream"],
            "creationTime": s["first"], "firstEventTimestamp": s["first"],
            "lastEventTimestamp": s["last"], "lastIngestionTime": s["last"],
            "arn": self.account.arn(f"log-group:{group}:log-stream:{s['stream']}", service="logs"),
        } for s in page]}
        if start + limit < len(streams):
            out["nextToken"] = str(start + limit)
        return out

    def op_GetLogEvents(self, p):
        token = p.get("nextToken") or "f/0"
        after = int(token.split("/", 1)[1]) if token.startswith("f/") else 0
        events = self.store.log_events(p["logGroupName"], p["logStreamName"], after, int(p.get("limit", 10000)))
        if p.get("startTime"):
            events = [e for e in events if e["ts"] >= int(p["startTime"])]
        last = events[-1]["seq"] if events else after
        return {
            "events": [{"timestamp": e["ts"], "message": e["message"], "ingestionTime": e["ts"]} for e in events],
            "nextForwardToken": f"f/{last}",
            "nextBackwardToken": f"b/{after}",
        }
