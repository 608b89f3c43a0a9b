"""AWS Lambda emulated for local mode: functions recorded in the control plane, invoked as confined processes.

* :mod:`.api` - the control plane (``CreateFunction`` ... ``ListFunctions``) and ``Invoke``, with AWS's
  shapes and errors (rest-json, :mod:`lab_helpers.local.wire.restjson`);
* :mod:`.invoke` - one invocation: the function's code unpacked, the emulated Python runtime
  (:mod:`lab_helpers.local.images.lambda_python`) run as a job process is run.
"""
